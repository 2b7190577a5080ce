"""Replay the histories of running workflows on this checkout's workflow code, before
deploying it: `python -m tools.replay --address HOST:PORT`.

Why it exists: a recipient lives for weeks, most of it waiting out a delay, and whenever a
worker picks it up again (after a deploy, a restart, an eviction from the worker's cache) it
replays the recipient's whole history through the code that worker runs. Code that issues
other commands than the history recorded (a timer, an activity or a marker added, removed or
moved outside `workflow.patched()`) fails that recipient's workflow tasks with a
nondeterminism error, and it stays stuck until the code is fixed. CI replays the histories
committed in tests/workflows/histories; this replays the real ones, from the real server,
with the workflows and the workflow runner the worker runs (`worker.WORKFLOWS`;
`SEQFLOW_WORKFLOW_SANDBOX` decides the runner, as for the worker). The upgrade procedure
around it is in docs/operations.md.

    python -m tools.replay --address temporal:7233                 # every running recipient
    python -m tools.replay --sequence seq_123 --limit 200          # a sample of one sequence
    python -m tools.replay --query 'ExecutionStatus = "Running"'   # every running workflow
    python -m tools.replay --histories tests/workflows/histories   # JSON files, no server

Exit status: 0 when every history replayed (how many is printed); 1 at the first one that did
not (its workflow id, run id and the error are printed); 2 when the server cannot be asked.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from temporalio.client import Client, WorkflowHistory
from temporalio.service import RPCError
from temporalio.worker import Replayer
from temporalio.workflow import NondeterminismError

from settings import get_settings
from worker import WORKFLOWS, workflow_runner
from workflows.client import DATA_CONVERTER, connect_client
from workflows.contract import SEQUENCE_KEY

RUNNING_RECIPIENTS = 'WorkflowType = "RecipientWorkflow" AND ExecutionStatus = "Running"'


@dataclass(frozen=True)
class Run:
    """A history to replay and the run it was recorded by."""

    history: WorkflowHistory
    run_id: str


@dataclass(frozen=True)
class Outcome:
    replayed: int  # histories that replayed without an error, before `failed` if any
    failed: Run | None = None
    error: Exception | None = None


async def replay(
    runs: AsyncIterator[Run], workflows: Sequence[type] = WORKFLOWS, *, sandboxed: bool
) -> Outcome:
    """Replay each run's history on `workflows`, stopping at the first that does not replay."""
    replayer = Replayer(
        workflows=workflows,
        data_converter=DATA_CONVERTER,
        workflow_runner=workflow_runner(sandboxed),
    )
    # The replayer answers for one history before it asks for the next.
    pending: dict[int, Run] = {}

    async def histories() -> AsyncIterator[WorkflowHistory]:
        async for run in runs:
            pending[id(run.history)] = run
            yield run.history

    replayed = 0
    async with replayer.workflow_replay_iterator(histories()) as results:
        async for result in results:
            run = pending.pop(id(result.history))
            if result.replay_failure is not None:
                return Outcome(replayed, run, result.replay_failure)
            replayed += 1
    return Outcome(replayed)


async def listed(client: Client, query: str, limit: int | None) -> AsyncIterator[Run]:
    """The histories of the workflows `query` matches (at most `limit` of them)."""
    async for execution in client.list_workflows(query, limit=limit):
        handle = client.get_workflow_handle(execution.id, run_id=execution.run_id)
        yield Run(await handle.fetch_history(), execution.run_id)


async def from_files(directory: Path) -> AsyncIterator[Run]:
    """Histories saved as JSON (`WorkflowHistory.to_json`, or the Web UI's and CLI's export)."""
    for path in await asyncio.to_thread(lambda: sorted(directory.glob("*.json"))):
        text = await asyncio.to_thread(path.read_text, encoding="utf-8")
        history = WorkflowHistory.from_json(path.stem, text)
        yield Run(history, history.run_id)


def visibility_query(query: str | None, sequence: str | None) -> str:
    """The given query (running recipients by default), narrowed to one sequence if asked."""
    query = query or RUNNING_RECIPIENTS
    if sequence:
        query = f'({query}) AND {SEQUENCE_KEY.name} = "{sequence}"'
    return query


def report(outcome: Outcome, source: str, sandboxed: bool) -> int:
    runner = "sandboxed" if sandboxed else "unsandboxed"
    if outcome.failed is None:
        print(f"replayed {outcome.replayed} histories ({source}, {runner}): no nondeterminism")
        return 0
    error = outcome.error
    kind = "nondeterminism" if isinstance(error, NondeterminismError) else "replay failure"
    print(
        f"{kind}: workflow {outcome.failed.history.workflow_id} run {outcome.failed.run_id} "
        f"does not replay on this code ({outcome.replayed} replayed before it; {source}, "
        f"{runner})\n  {type(error).__name__}: {error}"
    )
    return 1


async def run(args: argparse.Namespace, workflows: Sequence[type]) -> int:
    settings = get_settings()
    sandboxed = settings.workflow_sandbox
    if args.histories:
        return report(
            await replay(from_files(args.histories), workflows, sandboxed=sandboxed),
            f"files in {args.histories}",
            sandboxed,
        )
    query = visibility_query(args.query, args.sequence)
    target = f"{args.address}, namespace {args.namespace}"
    try:
        client = await connect_client(
            settings.model_copy(
                update={"temporal_address": args.address, "temporal_namespace": args.namespace}
            )
        )
        outcome = await replay(listed(client, query, args.limit), workflows, sandboxed=sandboxed)
    except (RuntimeError, RPCError) as exc:  # a failed connect is a RuntimeError
        print(f"cannot list workflows on {target} matching {query}: {exc}", file=sys.stderr)
        return 2
    return report(outcome, f"{target}, matching {query}", sandboxed)


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    settings = get_settings()
    parser = argparse.ArgumentParser(
        prog="python -m tools.replay",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--address", default=settings.temporal_address, help="HOST:PORT")
    parser.add_argument("--namespace", default=settings.temporal_namespace)
    parser.add_argument("--query", help=f"a visibility query (default: {RUNNING_RECIPIENTS})")
    parser.add_argument("--sequence", metavar="SEQ_ID", help="only this sequence's workflows")
    parser.add_argument("--limit", type=int, metavar="N", help="replay at most N workflows")
    parser.add_argument("--histories", type=Path, metavar="DIR", help="replay DIR/*.json")
    args = parser.parse_args(argv)
    if args.limit is not None and args.limit < 1:
        parser.error("--limit must be at least 1")
    if args.sequence and '"' in args.sequence:
        parser.error("--sequence: not a sequence id")
    if args.histories and (args.query or args.sequence or args.limit):
        parser.error("--histories replays files: --query, --sequence and --limit ask a server")
    if args.histories and not args.histories.is_dir():
        parser.error(f"--histories: {args.histories} is not a directory")
    return args


def main(argv: Sequence[str] | None = None, workflows: Sequence[type] = WORKFLOWS) -> int:
    """The exit status; `workflows` are the classes to replay on (tests plant others)."""
    return asyncio.run(run(parse(argv), workflows))


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # A process that used the Temporal client can abort at interpreter exit (see the note in
    # tests/conftest.py, temporalio/sdk-python#300); leave with the status we decided.
    os._exit(code)
