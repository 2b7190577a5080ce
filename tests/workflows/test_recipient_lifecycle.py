"""The recipient lifecycle of docs/time.md and docs/errors.md on the time-skipping server.

The server skips time only while we sleep through it (`advance`), so each test walks the
calendar explicitly: updates happen at known moments, and sends are checked to the minute.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from domain.statuses import RecipientStatus, StepType
from store.db import Store
from tests.conftest import SmtpSink, running_worker, text_of
from tests.workflows.harness import Harness, sent_at, sequence, step, timeline_at
from workflows.models import (
    ActionRequest,
    Contact,
    EditContentRequest,
    SendingSchedule,
    StepContent,
)
from workflows.recipient import RecipientWorkflow

S = RecipientStatus
DAY = timedelta(days=1)
MINUTE = timedelta(minutes=1)
ZERO = timedelta(0)


@pytest.fixture
async def harness(
    ts_env: WorkflowEnvironment, smtp: SmtpSink, store: Store
) -> AsyncIterator[Harness]:
    async with running_worker(ts_env.client, store, {StepType.EMAIL: smtp.channel()}) as worker:
        harness = Harness(ts_env, worker.task_queue)
        yield harness
        await harness.terminate_all()


def close(a: datetime, b: datetime) -> bool:
    return abs(a - b) < MINUTE


async def test_freeze_4_day_delay_paused_on_day_2_fires_2_days_after_resume(
    harness: Harness, smtp: SmtpSink
) -> None:
    handle = await harness.start(sequence(step("email", ZERO), step("email", 4 * DAY)))
    first = await harness.until(handle, lambda v: v.steps[0].state == "sent")
    await harness.advance(2 * DAY)
    paused = await harness.pause(handle, reason="holiday")
    assert paused.status is S.PAUSED and paused.next_step_at is None
    await harness.advance(10 * DAY)  # however long the pause lasts
    resumed = await harness.resume(handle)
    resumed_at = timeline_at(resumed, "resumed")
    assert resumed.next_step_at is not None
    assert close(resumed.next_step_at, resumed_at + 2 * DAY)
    await harness.advance(2 * DAY - 10 * MINUTE)
    assert len(smtp.messages) == 1  # not early
    await harness.advance(20 * MINUTE)
    done = await harness.until(handle, lambda v: v.status is S.COMPLETED)
    assert close(sent_at(done, 1), resumed_at + 2 * DAY)
    assert close(sent_at(done, 1) - sent_at(first, 0), 14 * DAY)


async def test_two_pauses_in_one_delay_add_up(harness: Harness) -> None:
    handle = await harness.start(sequence(step("email", ZERO), step("email", 4 * DAY)))
    first = await harness.until(handle, lambda v: v.steps[0].state == "sent")
    for run, paused in ((DAY, 3 * DAY), (DAY, 5 * DAY)):
        await harness.advance(run)
        await harness.pause(handle)
        await harness.advance(paused)
        await harness.resume(handle)
    await harness.advance(3 * DAY)
    done = await harness.until(handle, lambda v: v.status is S.COMPLETED)
    assert close(sent_at(done, 1) - sent_at(first, 0), 4 * DAY + 8 * DAY)


async def test_keep_schedule_resumed_before_the_due_time_keeps_day_5(harness: Harness) -> None:
    definition = sequence(
        step("email", ZERO), step("email", 5 * DAY), resume_policy="keep_schedule"
    )
    handle = await harness.start(definition)
    first = await harness.until(handle, lambda v: v.steps[0].state == "sent")
    await harness.advance(2 * DAY)
    await harness.pause(handle)
    await harness.advance(6 * 60 * MINUTE)
    resumed = await harness.resume(handle)
    assert resumed.next_step_at and close(resumed.next_step_at, sent_at(first, 0) + 5 * DAY)
    await harness.advance(3 * DAY)
    done = await harness.until(handle, lambda v: v.status is S.COMPLETED)
    assert close(sent_at(done, 1), sent_at(first, 0) + 5 * DAY)


async def test_keep_schedule_resumed_after_due_time_fires_at_next_window_opening(
    harness: Harness,
) -> None:
    paris = ZoneInfo("Europe/Paris")
    # Walk the calendar to a Monday 10:00 in Paris, inside a Mon–Fri 09:00–17:00 window.
    now = (await harness.now()).astimezone(paris)
    monday = now.date() + timedelta(days=(7 - now.weekday()) % 7 or 7)
    await harness.advance(datetime.combine(monday, time(10), paris) - now)
    window = SendingSchedule(
        timezone="Europe/Paris",
        days=["mon", "tue", "wed", "thu", "fri"],
        start=time(9),
        end=time(17),
    )
    definition = sequence(
        step("email", ZERO), step("email", 5 * DAY), resume_policy="keep_schedule", schedule=window
    )
    handle = await harness.start(definition)
    first = await harness.until(handle, lambda v: v.steps[0].state == "sent")
    await harness.advance(2 * DAY)
    await harness.pause(handle)
    await harness.advance(5 * DAY + 10 * 60 * MINUTE)  # day 7, 20:00 Paris: window closed
    resumed = await harness.resume(handle)
    resumed_local = timeline_at(resumed, "resumed").astimezone(paris)
    assert resumed_local.weekday() == 0 and resumed_local.hour == 20
    opening = datetime.combine(resumed_local.date() + DAY, time(9), paris).astimezone(UTC)
    assert resumed.next_step_at and close(resumed.next_step_at, opening)
    await harness.advance(14 * 60 * MINUTE)
    done = await harness.until(handle, lambda v: v.status is S.COMPLETED)
    assert close(sent_at(done, 1), opening)
    assert sent_at(first, 0).astimezone(paris).hour == 10


async def test_pause_until_resumes_by_itself(harness: Harness, smtp: SmtpSink) -> None:
    handle = await harness.start(sequence(step("email", ZERO), step("email", DAY)))
    await harness.until(handle, lambda v: v.steps[0].state == "sent")
    until = await harness.now() + 3 * DAY
    paused = await harness.pause(handle, reason="out_of_office", note="back Thursday", until=until)
    assert paused.pause and paused.pause.until == until and paused.pause.note == "back Thursday"
    await harness.advance(3 * DAY + MINUTE)
    back = await harness.until(handle, lambda v: v.status is S.IN_PROGRESS)
    resumed = [e for e in back.timeline if e.kind == "resumed"][-1]
    assert resumed.actor == "system" and resumed.details["reason"] == "pause_until_reached"
    assert close(resumed.at, until)
    await harness.advance(DAY)
    await harness.until(handle, lambda v: v.status is S.COMPLETED)
    assert len(smtp.messages) == 2


async def test_pause_from_pending_action_returns_to_pending_action(harness: Harness) -> None:
    handle = await harness.start(sequence(step("task", ZERO), step("email", DAY)))
    pending = await harness.until(handle, lambda v: v.status is S.PENDING_ACTION)
    assert "complete_task" in pending.allowed_actions
    assert (await harness.pause(handle)).status is S.PAUSED
    await harness.advance(5 * DAY)
    back = await harness.resume(handle)
    assert back.status is S.PENDING_ACTION and back.current_step == 0
    done = await handle.execute_update(RecipientWorkflow.complete_task, ActionRequest())
    assert done.steps[0].state == "completed" and done.current_step == 1


async def test_skip_during_a_delay_counts_the_next_delay_from_the_skip(harness: Harness) -> None:
    handle = await harness.start(
        sequence(step("email", ZERO), step("email", 3 * DAY), step("email", 2 * DAY))
    )
    await harness.until(handle, lambda v: v.steps[0].state == "sent")
    await harness.advance(DAY)
    skipped = await harness.skip(handle)
    skipped_at = timeline_at(skipped, "step_skipped")
    assert skipped.steps[1].state == "skipped" and skipped.current_step == 2
    assert skipped.next_step_at and close(skipped.next_step_at, skipped_at + 2 * DAY)
    await harness.advance(2 * DAY + MINUTE)
    done = await harness.until(handle, lambda v: v.status is S.COMPLETED)
    assert close(sent_at(done, 2), skipped_at + 2 * DAY)


async def test_skipping_the_last_step_completes(harness: Harness, smtp: SmtpSink) -> None:
    handle = await harness.start(sequence(step("email", ZERO), step("email", 3 * DAY)))
    await harness.until(handle, lambda v: v.steps[0].state == "sent")
    done = await harness.skip(handle)
    assert done.status is S.COMPLETED and done.allowed_actions == ["view_content", "delete"]
    assert len(smtp.messages) == 1


async def test_missing_variable_is_an_error_fixed_by_editing_content(
    harness: Harness, smtp: SmtpSink
) -> None:
    handle = await harness.start(
        sequence(step("email", ZERO, body="Hi {{ nickname }}"), step("email", DAY))
    )
    failed = await harness.until(handle, lambda v: v.status is S.ERROR)
    assert failed.error and failed.error.cause == "template_variable_missing"
    assert "nickname" in (failed.error.detail or "") and "edit the content" in failed.error.fix
    assert set(failed.allowed_actions) == {
        "pause",
        "skip",
        "edit_content",
        "stop",
        "delete",
        "retry",
    }
    assert smtp.messages == []  # never a blank
    fixed = await handle.execute_update(
        RecipientWorkflow.edit_content,
        EditContentRequest(step=0, content=StepContent(body="Hi {{ first_name }}")),
    )
    assert fixed.status is S.IN_PROGRESS
    await harness.until(handle, lambda v: v.steps[0].state == "sent")
    assert text_of(smtp.messages[0]).strip() == "Hi Ada"


async def test_a_template_that_fails_for_this_contact_errs_at_once_without_retries(
    harness: Harness, smtp: SmtpSink
) -> None:
    """Passes the write-time trial (the sample contact has no `company`), fails for this
    contact: one attempt, not minutes of retries, and the fix says to edit the content."""
    handle = await harness.start(
        sequence(step("email", ZERO, body="{{ 100 // (company|length) }}")),
        contact=Contact(email="ada@example.com", first_name="Ada", fields={"company": ""}),
    )
    failed = await harness.until(handle, lambda v: v.status is S.ERROR)
    assert failed.error and failed.error.cause == "template_invalid"
    assert "ZeroDivisionError" in (failed.error.detail or "")
    assert failed.error.fix == "edit the content"
    history = await handle.fetch_history()
    attempts = [e for e in history.events if e.HasField("activity_task_started_event_attributes")]
    assert [a.activity_task_started_event_attributes.attempt for a in attempts] == [1]
    assert smtp.messages == []


async def test_missing_email_then_pause_resume_retries_the_step(harness: Harness) -> None:
    handle = await harness.start(
        sequence(step("email", ZERO)), contact=Contact(first_name="Nobody", phone="+33600000000")
    )
    failed = await harness.until(handle, lambda v: v.status is S.ERROR)
    assert failed.error and failed.error.cause == "missing_email"
    await harness.pause(handle)
    retried = await harness.resume(handle)
    assert retried.status in (S.IN_PROGRESS, S.ERROR)
    again = await harness.until(handle, lambda v: v.status is S.ERROR)
    assert [e.kind for e in again.timeline].count("step_failed") == 2


async def test_rejected_action_leaves_no_trace_in_history(harness: Harness) -> None:
    handle = await harness.start(sequence(step("email", ZERO), step("email", DAY)))
    await harness.until(handle, lambda v: v.steps[0].state == "sent")
    with pytest.raises(WorkflowUpdateFailedError) as caught:
        await harness.resume(handle)
    assert caught.value.cause.details[0]["status_now"] == "in_progress"  # type: ignore[attr-defined]
    history = await handle.fetch_history()
    assert not any(
        event.HasField("workflow_execution_update_accepted_event_attributes")
        for event in history.events
    )


async def test_long_sequence_continues_as_new_and_keeps_its_place(
    harness: Harness, smtp: SmtpSink
) -> None:
    steps = [step("email", ZERO)] + [step("email", DAY) for _ in range(11)]
    handle = await harness.start(sequence(*steps), history_event_limit=60)
    await harness.advance(3 * DAY + MINUTE)
    await harness.pause(handle, reason="check history stays bounded")
    await harness.advance(DAY)
    await harness.resume(handle)
    final = await handle.result()
    assert final.status is S.COMPLETED and len(smtp.messages) == 12
    assert len({m["Message-ID"] for m in smtp.messages}) == 12  # nothing sent twice
    assert [e.kind for e in final.timeline].count("paused") == 1  # the timeline came along
    first_run = harness.env.client.get_workflow_handle(
        handle.id, run_id=handle.first_execution_run_id
    )
    history = await first_run.fetch_history()
    assert history.events[-1].HasField("workflow_execution_continued_as_new_event_attributes")
    assert len(history.events) < 120
