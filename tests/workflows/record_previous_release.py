"""Record a recipient mid-delay on the previous release's code, for the replay test.

Recipients started by the release in production wait for weeks; the next release must replay
them. This records one such recipient (enrolled, paused, resumed, its first step sent, 28 days
of its second delay still to go) on the code of another checkout, which comes first on
PYTHONPATH; run by path, it takes nothing from this one:

    git worktree add /tmp/prev-release <commit of the release>
    cd /tmp/prev-release && PYTHONPATH=/tmp/prev-release /work/main/.venv/bin/python \\
        /work/main/tests/workflows/record_previous_release.py \\
        /work/main/tests/workflows/histories/previous_release_mid_delay.json
    git worktree remove --force /tmp/prev-release

Then write the commit in tests/workflows/histories/README.md. It uses the old checkout's test
harness, so it works on any release since the harness took `Harness(env, task_queue)`.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

from aiosmtpd.controller import Controller
from temporalio.testing import WorkflowEnvironment

import workflows.recipient
from domain.statuses import StepType
from store.db import Store
from store.migrate import upgrade_to_head
from tests.conftest import (
    TEST_SERVER,
    SmtpSink,
    free_port,
    register_search_attributes,
    running_worker,
)
from tests.workflows.harness import Harness, sequence, step
from workflows.client import DATA_CONVERTER

DAY = timedelta(days=1)


async def record(out: Path) -> None:
    checkout = Path(os.environ.get("PYTHONPATH", "").split(os.pathsep)[0]).resolve()
    used = Path(workflows.recipient.__file__).resolve()
    assert used.is_relative_to(checkout), f"workflows from {used}, not from {checkout}"
    print(f"recording on the workflows in {used.parent}")
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=DATA_CONVERTER, test_server_existing_path=TEST_SERVER
    )
    await register_search_attributes(env.client)
    sink = SmtpSink("127.0.0.1", free_port())
    controller = Controller(sink, hostname=sink.host, port=sink.port)
    controller.start()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/s.db"
        await upgrade_to_head(url)
        store = Store.connect(url)
        async with running_worker(env.client, store, {StepType.EMAIL: sink.channel()}) as worker:
            h = Harness(env, worker.task_queue)
            a = await h.start(sequence(step("email", DAY), step("email", 30 * DAY)))
            await h.until(a, lambda v: v.status.value == "in_progress")
            await h.advance(timedelta(hours=6))
            await h.pause(a, reason="holiday", note="back tomorrow")
            await h.advance(DAY)
            await h.resume(a)
            await h.advance(DAY)  # 18 hours of the first delay were left
            await h.until(a, lambda v: v.steps[0].state == "sent")
            await h.advance(2 * DAY)
            await h.until(a, lambda v: v.status.value == "in_progress" and v.current_step == 1)
            description = await a.describe()
            assert description.status is not None and description.status.name == "RUNNING"
            history = await a.fetch_history()
            out.write_text(history.to_json())
            print(f"wrote {out}: {len(history.events)} events, still running")
            await a.terminate("recorded")
        await store.close()
    controller.stop()
    await env.shutdown()


if __name__ == "__main__":  # a guard the rendering pool's spawned processes need
    asyncio.run(record(Path(sys.argv[1])))
