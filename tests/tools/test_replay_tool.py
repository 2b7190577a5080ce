"""`python -m tools.replay`, the pre-deploy check: recipients left mid-delay on a real dev
server replay on today's workflows (exit 0 and their count), and a workflow change made
outside `workflow.patched()` (tests/tools/planted.py) is caught, naming the workflow.

The histories are the server's own, of recipients enrolled through the API and served by the
real worker, which is stopped before the tool runs, as a deploy would find them.
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from activities.dispatch import UnsubscribeLinks
from domain.statuses import StepType
from store.db import Store
from tests.conftest import TOKEN_SECRET, Api, SmtpSink, api_for, assert_eventually
from tests.tools.planted import RecipientWorkflowWithAnUnpatchedTimer
from tools.replay import RUNNING_RECIPIENTS, main, visibility_query
from worker import WORKFLOWS, build_worker
from workflows.contract import recipient_workflow_id

ROOT = Path(__file__).resolve().parents[2]
HISTORIES = ROOT / "tests" / "workflows" / "histories"
PLANTED = [RecipientWorkflowWithAnUnpatchedTimer, *WORKFLOWS[1:]]
STEPS = [
    {"type": "email", "delay": "PT0S", "subject": "Hi {{ first_name }}", "body": "Hello"},
    {"type": "email", "delay": "P30D", "subject": "Again", "body": "Still there?"},
]
PEOPLE = ("ada@example.com", "bob@example.com", "cy@example.com")


@dataclass
class MidDelay:
    api: Api
    sequence_id: str
    workflow_ids: list[str]
    argv: list[str]  # the tool's arguments for exactly these recipients


async def run_tool(*argv: str, workflows: list[type] = WORKFLOWS) -> int:
    """main(argv) in-process (its own event loop, so in a thread of its own)."""
    return await asyncio.to_thread(main, list(argv), workflows)


@pytest.fixture
async def mid_delay(
    dev_env: WorkflowEnvironment, store: Store, smtp: SmtpSink
) -> AsyncIterator[MidDelay]:
    """Three recipients that sent their first step and wait 30 days; no worker left."""
    task_queue = f"tq-{uuid.uuid4()}"
    async with api_for(dev_env, store, smtp, task_queue=task_queue) as api:
        worker = build_worker(
            dev_env.client,
            task_queue=task_queue,
            store=store,
            channels={StepType.EMAIL: smtp.channel()},
            unsubscribe=UnsubscribeLinks("http://seqflow.test", TOKEN_SECRET.encode()),
        )
        async with worker:
            sid = (await api.create_sequence(steps=STEPS))["id"]
            enrolled = await api.enroll(sid, *PEOPLE)
            for recipient in enrolled:

                async def sent(rid: str = recipient["id"]) -> None:
                    view = await api.recipient(sid, rid)
                    assert view["steps"][0]["state"] == "sent", view["steps"][0]
                    assert view["status"] == "in_progress", view["status"]

                await assert_eventually(sent, timeout=30)
        ids = [recipient_workflow_id("acme", sid, r["id"]) for r in enrolled]
        for workflow_id in ids:
            described = await dev_env.client.get_workflow_handle(workflow_id).describe()
            assert described.status is not None and described.status.name == "RUNNING"
        address = dev_env.client.service_client.config.target_host
        yield MidDelay(api, sid, ids, ["--address", address, "--sequence", sid])


@pytest.mark.devserver
async def test_recipients_mid_delay_replay_on_todays_workflows(
    mid_delay: MidDelay, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await run_tool(*mid_delay.argv) == 0
    assert "replayed 3 histories" in capsys.readouterr().out

    assert await run_tool(*mid_delay.argv, "--limit", "2") == 0
    assert "replayed 2 histories" in capsys.readouterr().out

    # As an operator runs it, and with the sandbox on (the worker's other runner).
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tools.replay",
        *mid_delay.argv,
        cwd=ROOT,
        env={**os.environ, "SEQFLOW_WORKFLOW_SANDBOX": "true"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, (out.decode(), err.decode())
    assert "replayed 3 histories" in out.decode()
    assert ", sandboxed)" in out.decode()


@pytest.mark.devserver
async def test_a_change_outside_patched_fails_naming_the_first_recipient(
    mid_delay: MidDelay, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await run_tool(*mid_delay.argv, workflows=PLANTED) == 1
    out = capsys.readouterr().out
    assert out.startswith("nondeterminism: workflow "), out
    assert "NondeterminismError" in out and "0 replayed before it" in out, out
    named = [i for i in mid_delay.workflow_ids if f"workflow {i} run " in out]
    assert len(named) == 1, out
    run_id = (await mid_delay.api.client.get_workflow_handle(named[0]).describe()).run_id
    assert f"workflow {named[0]} run {run_id} " in out


async def test_the_committed_histories_replay_and_the_planted_change_does_not(
    capsys: pytest.CaptureFixture[str],
) -> None:
    count = len(list(HISTORIES.glob("*.json")))
    assert await run_tool("--histories", str(HISTORIES)) == 0
    assert f"replayed {count} histories" in capsys.readouterr().out
    assert await run_tool("--histories", str(HISTORIES), workflows=PLANTED) == 1
    first = min(p.stem for p in HISTORIES.glob("*.json"))  # a recipient's
    assert f"nondeterminism: workflow {first} run " in capsys.readouterr().out


def test_the_query_is_running_recipients_narrowed_to_a_sequence() -> None:
    assert visibility_query(None, None) == RUNNING_RECIPIENTS
    assert (
        visibility_query(None, "seq_1") == f'({RUNNING_RECIPIENTS}) AND SeqflowSequence = "seq_1"'
    )
    assert visibility_query('ExecutionStatus = "Running"', None) == 'ExecutionStatus = "Running"'
