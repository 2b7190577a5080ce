"""A worker stopped with SIGTERM (a deploy, a scale-in) while it hands a message over.

A real worker process (`python -m worker`) on the dev server, an SMTP server that takes a few
seconds to answer one recipient's DATA, the API in-process. SIGTERM lands while the server is
inside that DATA. Then:

- the worker exits soon (the hand-over's remaining seconds, or its grace, and a margin);
- the message arrived exactly once and whole, and the ledger says `sent` (not `uncertain`,
  not cut): the hand-over was finished before the worker let go;
- the stopping worker took no new work: a recipient enrolled after the SIGTERM is not
  dispatched by it (no task of that workflow carries its identity); a new worker sends it,
  once.

Twice: with the grace longer than the DATA (the SDK waits for the activity), and shorter
(the SDK cancels the activity inside the DATA, and the hand-over is finished first anyway).
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from store.db import Store
from store.ledger import Ledger
from store.migrate import upgrade_to_head
from tests.conftest import SmtpSink, api_for, assert_eventually, free_port, text_of
from tests.e2e.processes import READY, identity, kill9, start_worker, wait_for_log
from workflows.contract import recipient_workflow_id

pytestmark = pytest.mark.devserver

DATA_SECONDS = 4.0  # how long the server sits in the slow recipient's DATA before answering
SLOW = "ada@example.com"
MARGIN = 8.0  # seconds past the expected exit: process teardown on a busy 2-core machine
STEPS = [{"type": "email", "delay": "PT0S", "subject": "Hi {{ first_name }}", "body": "Whole."}]


@dataclass
class SlowDataSink(SmtpSink):
    """The SMTP sink, sitting `DATA_SECONDS` in the slow recipient's DATA (the message is in,
    its answer not yet given): the moment a cut hand-over would be `uncertain`."""

    in_data: list[float] = field(default_factory=list)  # wall clock, entering the slow DATA

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        if SLOW in envelope.rcpt_tos:
            self.in_data.append(time.time())
            await asyncio.sleep(DATA_SECONDS)
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def slow_data() -> Iterator[SlowDataSink]:
    sink = SlowDataSink("127.0.0.1", free_port())
    controller = Controller(sink, hostname=sink.host, port=sink.port)
    controller.start()
    yield sink
    controller.stop()


async def task_identities(handle: WorkflowHandle) -> set[str]:  # type: ignore[type-arg]
    """Who took this workflow's workflow and activity tasks (a retried activity's start is
    recorded once, with its last attempt's identity)."""
    found = set()
    async for event in handle.fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED:
            found.add(event.workflow_task_started_event_attributes.identity)
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            found.add(event.activity_task_started_event_attributes.identity)
    return found


async def activity_completed_by(handle: WorkflowHandle) -> list[str]:  # type: ignore[type-arg]
    return [
        event.activity_task_completed_event_attributes.identity
        async for event in handle.fetch_history_events()
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED
    ]


@pytest.mark.parametrize(
    "grace", [10.0, 1.0], ids=["grace-outlasts-the-data", "grace-ends-inside-the-data"]
)
async def test_sigterm_mid_data_finishes_the_hand_over_and_takes_no_new_work(
    dev_env: WorkflowEnvironment, slow_data: SlowDataSink, tmp_path: Path, grace: float
) -> None:
    smtp = slow_data
    db_url = f"sqlite+aiosqlite:///{tmp_path}/seqflow.db"
    await upgrade_to_head(db_url)
    store = Store.connect(db_url)
    task_queue = f"tq-{uuid.uuid4()}"
    settings = {"SEQFLOW_SHUTDOWN_GRACE": f"PT{grace}S"}
    logs = tmp_path / "stopping.log", tmp_path / "next.log"
    stopping = start_worker(dev_env, task_queue, db_url, smtp, logs[0], **settings)
    following: subprocess.Popen[bytes] | None = None
    began = time.monotonic()
    timeline: list[str] = []

    def mark(what: str) -> None:
        timeline.append(f"{time.monotonic() - began:.1f}s {what}")

    try:
        await wait_for_log(stopping, logs[0], READY)
        mark("worker ready")
        async with api_for(dev_env, store, smtp, task_queue=task_queue) as api:
            sid = (await api.create_sequence(name="Shutdown", steps=STEPS))["id"]
            (ada,) = await api.enroll(sid, SLOW)

            async def in_data() -> None:
                assert smtp.in_data, "the slow DATA has not begun"

            await assert_eventually(in_data, timeout=60, interval=0.02)
            mark("in DATA")
            await asyncio.sleep(0.3)  # well inside it: the message is in, no answer yet
            stopping.send_signal(signal.SIGTERM)
            signalled = time.monotonic()
            await wait_for_log(stopping, logs[0], "Beginning worker shutdown", timeout=10)
            (bob,) = await api.enroll(sid, "bob@example.com")  # after polling stopped

            # The worker exits once the hand-over is done: its remaining seconds, or the grace.
            expected = max(grace, DATA_SECONDS)
            code = await asyncio.to_thread(stopping.wait, expected + MARGIN + 10)
            exited_after = time.monotonic() - signalled
            mark("worker exited")
            log_text = logs[0].read_text(errors="replace")
            assert code == 0, log_text[-3000:]
            assert exited_after < expected + MARGIN, (exited_after, log_text[-3000:])
            # With the shorter grace the SDK did cancel the activity inside the DATA.
            absorbed = "cancelled during a hand-over" in log_text
            assert absorbed is (grace < DATA_SECONDS), log_text[-3000:]

            # Exactly once and whole, and the ledger knows it went out.
            got = smtp.to(SLOW)
            assert len(got) == 1, [m["Message-ID"] for m in got]
            assert got[0]["Subject"] == "Hi Ada" and text_of(got[0]) == "Whole."
            rows = await Ledger(store).rows_for(ada["id"])
            assert [(r.state, r.provider_message_id) for r in rows] == [
                ("sent", got[0]["Message-ID"])
            ], [(r.state, r.dispatch_key) for r in rows]
            ada_handle = api.client.get_workflow_handle(
                recipient_workflow_id("acme", sid, ada["id"])
            )
            # The stopping worker reported the activity it finished (no retry elsewhere).
            assert await activity_completed_by(ada_handle) == [identity(stopping)]

            # Bob waited: nothing sent, no task of his taken by the stopping worker.
            bob_handle = api.client.get_workflow_handle(
                recipient_workflow_id("acme", sid, bob["id"])
            )
            assert smtp.to("bob@example.com") == []
            assert identity(stopping) not in await task_identities(bob_handle)

            # A new worker takes both over: Bob's message goes out once, Ada's never again.
            following = start_worker(dev_env, task_queue, db_url, smtp, logs[1], **settings)
            mark("next worker started")

            async def both_completed() -> None:
                for rid in (ada["id"], bob["id"]):
                    view = await api.recipient(sid, rid)
                    assert view["status"] == "completed", (rid, view["status"])

            await assert_eventually(both_completed, timeout=90, interval=0.25)
            mark("both completed")
            assert len(smtp.to("bob@example.com")) == 1
            assert len(smtp.to(SLOW)) == 1
            assert await task_identities(bob_handle) == {identity(following)}
            assert [r.state for r in await Ledger(store).rows_for(bob["id"])] == ["sent"]
            print(
                f"\ngrace {grace:g} s, DATA {DATA_SECONDS:g} s: exited {exited_after:.1f} s "
                f"after SIGTERM; {SLOW} received {len(smtp.to(SLOW))}x, ledger "
                f"{[r.state for r in rows]}; the late recipient sent by the next worker"
                f"\ntimeline: {'; '.join(timeline)}"
            )
    finally:
        kill9(stopping)
        if following is not None:
            kill9(following)
        await store.close()
