"""What a worker pays to bring an evicted recipient back: CPU per replay of each recorded
history, with and without Temporal's workflow sandbox (settings.workflow_sandbox).

`python -m bench.replay_cost [--times 40]`. A fan-out that reaches recipients no longer in the
worker's cache pays this once per recipient; it is why the worker runs unsandboxed.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from worker import WORKFLOWS, workflow_runner
from workflows.client import DATA_CONVERTER

HISTORIES = Path(__file__).parent.parent / "tests" / "workflows" / "histories"


async def cpu_per_replay(history: WorkflowHistory, sandboxed: bool, times: int) -> float:
    """Milliseconds of this process's CPU (Python and the SDK core) per replay."""
    replayer = Replayer(
        workflows=WORKFLOWS,
        data_converter=DATA_CONVERTER,
        workflow_runner=workflow_runner(sandboxed),
    )

    async def copies() -> AsyncIterator[WorkflowHistory]:
        for i in range(times):
            yield WorkflowHistory(f"{history.workflow_id}-{i}", history.events)

    started = time.process_time()
    async with replayer.workflow_replay_iterator(copies()) as results:
        async for result in results:
            if result.replay_failure is not None:
                raise result.replay_failure
    return (time.process_time() - started) / times * 1000


async def main_async(times: int) -> None:
    print(
        f"{'history':28} {'events':>6} {'sandboxed':>10} {'unsandboxed':>12}  (CPU ms per replay)"
    )
    for path in sorted(HISTORIES.glob("*.json")):
        history = WorkflowHistory.from_json(path.stem, path.read_text())
        boxed = await cpu_per_replay(history, True, times)
        free = await cpu_per_replay(history, False, times)
        print(f"{path.stem:28} {len(history.events):>6} {boxed:>10.1f} {free:>12.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.replay_cost", description=__doc__)
    parser.add_argument("--times", type=int, default=40, help="replays of each history")
    asyncio.run(main_async(parser.parse_args().times))


if __name__ == "__main__":
    main()
