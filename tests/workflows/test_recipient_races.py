"""Races a person can cause: actions landing while a step is being dispatched, double clicks,
replies arriving in awkward states. Each was a real bug once (see the commit history)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import time, timedelta

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from activities.channels import ChannelError, OutboundMessage
from domain.failures import FailureCause
from domain.statuses import RecipientStatus, StepType
from store.db import Store
from tests.conftest import assert_eventually, running_worker
from tests.workflows.harness import Harness, sequence, step
from workflows.models import ActionRequest, InboundEvent, SendingSchedule, SendManualEmailRequest
from workflows.recipient import RecipientWorkflow

S = RecipientStatus
DAY, ZERO = timedelta(days=1), timedelta(0)


class SlowChannel:
    """Takes `delay` seconds to hand a message over; can fail the first attempt or on cancel."""

    def __init__(self, delay: float = 3.0, fail_first: bool = False, fail_on_cancel: bool = False):
        self.delay, self.fail_first, self.fail_on_cancel = delay, fail_first, fail_on_cancel
        self.attempts = 0
        self.sent: list[str] = []

    async def send(self, message: OutboundMessage) -> str:
        self.attempts += 1
        if self.fail_first and self.attempts == 1:
            raise ChannelError(FailureCause.PROVIDER_REJECTED, "550 mailbox unavailable")
        try:
            await asyncio.sleep(self.delay)
        except asyncio.CancelledError:
            if self.fail_on_cancel:
                raise ChannelError(
                    FailureCause.PROVIDER_REJECTED, "failed while being stopped"
                ) from None
            raise
        self.sent.append(message.message_id)
        return message.message_id


@pytest.fixture
async def slow(
    request: pytest.FixtureRequest, ts_env: WorkflowEnvironment, store: Store
) -> AsyncIterator[tuple[Harness, SlowChannel]]:
    channel = SlowChannel(**getattr(request, "param", {}))
    async with running_worker(ts_env.client, store, {StepType.EMAIL: channel}) as worker:
        harness = Harness(ts_env, worker.task_queue)
        yield harness, channel
        await harness.terminate_all()


async def started(channel: SlowChannel) -> None:
    async def check() -> None:
        assert channel.attempts >= 1

    await assert_eventually(check)


async def test_skip_during_a_dispatch_cancels_it_and_sends_nothing(slow) -> None:  # type: ignore[no-untyped-def]
    harness, channel = slow
    handle = await harness.start(sequence(step("email", ZERO), step("email", DAY)))
    await started(channel)
    skipped = await harness.skip(handle)
    assert skipped.in_flight == "cancelled"
    assert [s.state for s in skipped.steps] == ["skipped", "pending"]
    await asyncio.sleep(1)
    assert channel.attempts == 1 and channel.sent == []


@pytest.mark.parametrize("slow", [{"fail_on_cancel": True}], indirect=True)
async def test_stop_during_a_failing_dispatch_stays_stopped(slow) -> None:  # type: ignore[no-untyped-def]
    harness, channel = slow
    handle = await harness.start(sequence(step("email", ZERO)))
    await started(channel)
    stopped = await handle.execute_update(RecipientWorkflow.stop, ActionRequest())
    assert stopped.status is S.STOPPED and "retry" not in stopped.allowed_actions


@pytest.mark.parametrize("slow", [{"delay": 0}], indirect=True)
async def test_double_skip_skips_one_step(slow) -> None:  # type: ignore[no-untyped-def]
    harness, _ = slow
    handle = await harness.start(
        sequence(step("email", ZERO), step("email", DAY), step("email", DAY), step("email", DAY))
    )
    await harness.until(handle, lambda v: v.steps[0].state == "sent")
    outcomes = await asyncio.gather(
        harness.skip(handle, step=1), harness.skip(handle, step=1), return_exceptions=True
    )
    assert sum(isinstance(o, WorkflowUpdateFailedError) for o in outcomes) == 1
    view = await harness.view(handle)
    assert [s.state for s in view.steps] == ["sent", "skipped", "pending", "pending"]


@pytest.mark.parametrize("slow", [{"delay": 0}], indirect=True)
async def test_reply_with_stop_on_response_off_runs_to_the_end_as_responded(slow) -> None:  # type: ignore[no-untyped-def]
    harness, channel = slow
    handle = await harness.start(
        sequence(step("email", ZERO), step("email", DAY), stop_on_response=False)
    )
    await harness.until(handle, lambda v: v.steps[0].state == "sent")
    await handle.signal(RecipientWorkflow.inbound, InboundEvent(event_id="r1", kind="reply"))
    replied = await harness.until(handle, lambda v: v.status is S.RESPONDED)
    assert "pause" in replied.allowed_actions  # the footnote: In Progress actions remain
    final = await handle.result()
    assert final.status is S.RESPONDED and len(channel.sent) == 2
    assert [e.kind for e in final.timeline].count("completed") == 1


@pytest.mark.parametrize("slow", [{"delay": 0, "fail_first": True}], indirect=True)
async def test_reply_while_in_error_keeps_the_error_for_a_person(slow) -> None:  # type: ignore[no-untyped-def]
    harness, channel = slow
    handle = await harness.start(
        sequence(step("email", ZERO), step("email", DAY), stop_on_response=False)
    )
    await harness.until(handle, lambda v: v.status is S.ERROR)
    await handle.signal(RecipientWorkflow.inbound, InboundEvent(event_id="r1", kind="reply"))
    view = await harness.until(handle, lambda v: any(e.kind == "inbound_reply" for e in v.timeline))
    await asyncio.sleep(0.5)
    assert view.status is S.ERROR and channel.attempts == 1  # not re-dispatched on its own


@pytest.mark.parametrize("slow", [{"delay": 0}], indirect=True)
async def test_manual_email_sent_now_ignores_the_sending_window(slow) -> None:  # type: ignore[no-untyped-def]
    harness, channel = slow
    never_open_now = SendingSchedule(timezone="UTC", days=["sun"], start=time(0), end=time(0, 1))
    handle = await harness.start(
        sequence(step("manual_email", ZERO), step("email", DAY), schedule=never_open_now)
    )
    await harness.until(handle, lambda v: v.status is S.PENDING_ACTION)
    sent = await asyncio.wait_for(
        handle.execute_update(RecipientWorkflow.send_manual_email, SendManualEmailRequest()), 15
    )
    assert sent.steps[0].state == "sent" and len(channel.sent) == 1


@pytest.mark.parametrize("slow", [{"delay": 0}], indirect=True)
async def test_manual_email_now_does_not_deadlock_with_continue_as_new(slow) -> None:  # type: ignore[no-untyped-def]
    harness, _ = slow
    handle = await harness.start(
        sequence(step("manual_email", ZERO), step("email", DAY)), history_event_limit=10
    )
    await harness.until(handle, lambda v: v.status is S.PENDING_ACTION)
    sent = await asyncio.wait_for(
        handle.execute_update(RecipientWorkflow.send_manual_email, SendManualEmailRequest()), 15
    )
    assert sent.steps[0].state == "sent"
