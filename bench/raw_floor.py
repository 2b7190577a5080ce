"""The raw floor for `bench.sequence_pause`: the least a workflow can do with a start and a signal.

`FlagWorkflow` waits on one long timer; its `set_flag` signal (or `flag_update` update) sets a
flag and shows it in the same search attribute the recipients use (SeqflowStatus), so the bench
counts "applied" for both the same way, through the dev server's visibility. Its worker runs
as a subprocess, like ours:
`python -m bench.raw_floor --address 127.0.0.1:7233 --task-queue raw --cache 6000 [--sandbox]`.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from datetime import timedelta

from temporalio import workflow
from temporalio.client import Client
from temporalio.worker import Worker

with workflow.unsafe.imports_passed_through():
    # Passed through, as our worker's sandbox does for its libraries: the sandbox re-imports
    # a workflow module's other imports for every workflow instance it creates.
    from workflows.contract import STATUS_KEY, STEP_KEY

LONG_TIMER = timedelta(days=30)
WAITING, FLAGGED = "waiting", "flagged"


@workflow.defn(name="BenchFlagWorkflow")
class FlagWorkflow:
    def __init__(self) -> None:
        self.flag = False

    @workflow.run
    async def run(self) -> None:
        # Step 1 = "the first task ran", the analogue of a recipient having sent step 0.
        workflow.upsert_search_attributes([STEP_KEY.value_set(1)])
        await workflow.sleep(LONG_TIMER)

    @workflow.signal
    def set_flag(self, value: bool) -> None:
        self.flag = value
        workflow.upsert_search_attributes([STATUS_KEY.value_set(FLAGGED if value else WAITING)])

    @workflow.update
    def flag_update(self, value: bool) -> bool:
        """The same as `set_flag`, reached the way our fan-out reaches recipients."""
        self.set_flag(value)
        return self.flag


async def serve(address: str, task_queue: str, cache: int, sandboxed: bool) -> None:
    # Outside the workflow module's sandboxed imports: the worker's runner and converter are
    # ours, so the raw floor differs from our worker only in what the workflow does.
    from worker import workflow_runner
    from workflows.client import DATA_CONVERTER

    client = await Client.connect(address, data_converter=DATA_CONVERTER)
    worker = Worker(
        client,
        task_queue=task_queue,
        workflows=[FlagWorkflow],
        workflow_runner=workflow_runner(sandboxed),
        max_cached_workflows=cache,
        graceful_shutdown_timeout=timedelta(seconds=2),
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with worker:
        print(f"raw worker polling {task_queue}", flush=True)
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--address", required=True)
    parser.add_argument("--task-queue", required=True)
    parser.add_argument("--cache", type=int, default=6000)
    parser.add_argument("--sandbox", action="store_true", help="run the workflow sandboxed")
    args = parser.parse_args()
    asyncio.run(serve(args.address, args.task_queue, args.cache, args.sandbox))


if __name__ == "__main__":
    main()
