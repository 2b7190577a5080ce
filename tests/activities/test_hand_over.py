"""A hand-over that has begun is never cut, however many cancellations arrive meanwhile (a
pause, then a stopping worker's deadline): it finishes, and the caller learns how it ended.
And a stopping worker does not wait on idle polls."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from aiosmtpd.controller import Controller
from temporalio.testing import ActivityEnvironment

from activities.channels import OutboundMessage, SmtpEmailChannel, finish_once_started
from activities.dispatch import StepDispatcher
from activities.webhooks import WebhookSender
from domain.models import SequenceDefinition
from domain.outbound import EventType
from domain.statuses import RecipientStatus
from store.db import Store
from store.recipients import NewContact, Recipients
from store.sequences import Sequences
from store.webhooks import Webhooks
from tests.activities.test_dispatch_claim import SlowLedger
from tests.conftest import SmtpSink, assert_eventually, free_port, outbound, text_of
from workflows.models import PendingRequest


async def cancel_repeatedly(task: asyncio.Task, times: int, every: float) -> None:  # type: ignore[type-arg]
    for _ in range(times):
        await asyncio.sleep(every)
        task.cancel()


async def test_a_commit_survives_repeated_cancellation_and_leaves_none_pending() -> None:
    done = asyncio.Event()

    async def commit() -> str:
        await asyncio.sleep(0.3)
        done.set()
        return "250 OK"

    seen: list[int] = []

    async def caller() -> str:
        answer = await finish_once_started(commit())
        current = asyncio.current_task()
        assert current is not None
        seen.append(current.cancelling())
        return answer

    task = asyncio.create_task(caller())
    await cancel_repeatedly(task, times=3, every=0.05)
    assert await task == "250 OK"
    assert done.is_set()
    assert seen == [0]  # the absorbed cancellations do not linger on the task


async def test_a_commit_that_fails_reports_its_own_failure_even_when_cancelled() -> None:
    async def commit() -> str:
        await asyncio.sleep(0.2)
        raise ConnectionResetError("lost during DATA")

    task = asyncio.create_task(finish_once_started(commit()))
    await cancel_repeatedly(task, times=2, every=0.05)
    with pytest.raises(ConnectionResetError):
        await task


@dataclass
class SlowDataSink(SmtpSink):
    """Sits in DATA (the message is in, its answer not given) for `delay` seconds."""

    delay: float = 0.6
    entered: list[float] = field(default_factory=list)

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        self.entered.append(time.monotonic())
        await asyncio.sleep(self.delay)
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def slow_data() -> Iterator[SlowDataSink]:
    sink = SlowDataSink("127.0.0.1", free_port())
    controller = Controller(sink, hostname=sink.host, port=sink.port)
    controller.start()
    yield sink
    controller.stop()


async def test_smtp_cancelled_twice_inside_data_finishes_the_message_once(
    slow_data: SlowDataSink,
) -> None:
    channel = SmtpEmailChannel(slow_data.host, slow_data.port, "seqflow <o@seqflow.test>", 10)
    message = OutboundMessage(
        channel="email",
        to="ada@example.com",
        body="Every word of it.",
        subject="Hi Ada",
        message_id="<rcp_x.0@seqflow>",
        headers={},
    )
    send = asyncio.create_task(channel.send(message))

    async def inside_data() -> None:  # the server (its own thread) has the message
        assert slow_data.entered

    await assert_eventually(inside_data, timeout=10, interval=0.01)
    await cancel_repeatedly(send, times=2, every=0.1)
    assert await send == "<rcp_x.0@seqflow>"  # the server's answer arrived: sent
    [got] = slow_data.messages
    assert got["Message-ID"] == "<rcp_x.0@seqflow>" and text_of(got).strip() == "Every word of it."


async def test_a_claim_cancelled_twice_midway_is_still_given_back(store: Store) -> None:
    await Sequences(store).create("acme", "seq_c", SequenceDefinition(name="S", steps=[]))
    [row], _ = await Recipients(store).enroll(
        "acme", "seq_c", [NewContact("ada@example.com")], RecipientStatus.IN_PROGRESS
    )
    ledger = SlowLedger(store)
    out = outbound(row.recipient_id, "seq_c")
    attempt = asyncio.create_task(StepDispatcher({}, ledger)._claim(out, datetime.now(UTC)))
    await ledger.waiting.wait()
    await cancel_repeatedly(attempt, times=2, every=0.05)
    with pytest.raises(asyncio.CancelledError):
        await attempt
    assert [r.state for r in await ledger.rows_for(row.recipient_id)] == ["released"]


async def test_a_webhook_poll_answers_at_once_when_its_worker_begins_to_stop(store: Store) -> None:
    """A stopping worker does not sit out its grace in an idle one-minute poll."""
    endpoint = await Webhooks(store).create(
        "acme", "https://a.example/h", [EventType.RECIPIENT_STATUS_CHANGED], None, False
    )
    sender = WebhookSender(Webhooks(store), dev_mode=True, poll=timedelta(seconds=0.2))
    env = ActivityEnvironment()
    request = PendingRequest(endpoint_id=endpoint.id, wait=timedelta(minutes=1))
    polling = asyncio.create_task(env.run(sender.webhook_pending, request))
    await asyncio.sleep(0.5)
    assert not polling.done()
    began = time.monotonic()
    env.worker_shutdown()
    assert await asyncio.wait_for(polling, timeout=5) == []
    assert time.monotonic() - began < 1.0
