"""RecipientWorkflow: one contact walking one sequence, on a delay clock that freezes on pause.

The workflow is a small interpreter over `RecipientState`: every handler changes the state and
wakes the main loop, which re-decides from the state alone what to wait for next. So a pause,
skip or edit takes effect at once, and continue-as-new only has to carry the state.

Updates (validated against domain.actions, so a rejected action never reaches history):
    pause, resume, skip, stop, retry, exclude, complete_task, send_manual_email, edit_content
Signals: inbound (reply, meeting, bounce, unsubscribe, out-of-office; deduplicated by id),
         sequence_state (the sequence paused/resumed: applied as of its acknowledged moment),
         sequence_content (sequence content edited), sequence_sender (sender changed)
Queries: view, content
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError
from temporalio.exceptions import TimeoutError as TemporalTimeoutError

with workflow.unsafe.imports_passed_through():
    from domain import actions, timing
    from domain.statuses import (
        AUTOMATIC_STEPS,
        RESPONSE_STATUSES,
        Action,
        RecipientStatus,
        StepType,
        ends_sequence,
    )
    from domain.templates import TemplateProblem, render
    from workflows.ids import STATUS_KEY, STEP_KEY
    from workflows.models import (
        SYSTEM,
        ActionRequest,
        ContentView,
        DispatchRequest,
        DispatchResult,
        EditContentRequest,
        ErrorInfo,
        InboundEvent,
        PauseInfo,
        PauseRequest,
        RecipientInput,
        RecipientProjection,
        RecipientState,
        RecipientView,
        SenderChange,
        SendManualEmailRequest,
        SequenceStateChange,
        SkipRequest,
        StepContent,
        StepContentChange,
        StepRecord,
        TimelineEntry,
    )

S = RecipientStatus

# Cancellation reaches an activity through its heartbeat (throttled to 0.8 × timeout), so a
# short heartbeat timeout keeps "pause during a dispatch" answers quick.
DISPATCH_HEARTBEAT_TIMEOUT = timedelta(seconds=2)
DISPATCH_TIMEOUT = timedelta(minutes=2)
# Ten attempts span about four minutes: a provider blip or a worker swamped by a burst (10,000
# recipients starting at once timed 0.35% of them out five times in a row) is not a person's
# problem; an outage longer than that is, and shows as provider_unavailable.
DISPATCH_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(minutes=1),
    maximum_attempts=10,
)
PROJECTION_TIMEOUT = timedelta(seconds=10)
HELD_RECHECK = timedelta(minutes=1)
PROJECTION_RECHECK = timedelta(seconds=30)
FINAL_PROJECTION_TRIES = 20
# Ledger refusals that mean "not now" rather than "this step failed".
_NOT_SENT_YET = {"held", "suppressed", "sender_capped", "sender_changed"}
PROJECTION_RETRY = RetryPolicy(maximum_attempts=5, maximum_interval=timedelta(seconds=5))

# What a person should do about each failure cause (PRODUCT.md §6).
FIXES = {
    "sender_disconnected": "reconnect the sender; its recipients are retried",
    "missing_email": "add an email address to the contact, or skip the step",
    "missing_phone": "add a phone number to the contact, or skip the step",
    "invalid_phone": "correct the contact's phone number, or skip the step",
    "missing_linkedin_url": "add a LinkedIn URL to the contact, or skip the step",
    "template_variable_missing": "edit the content or add the field to the contact",
    "template_invalid": "edit the content",
    "provider_rejected": "retry the step",
    "provider_unavailable": "retry the step",
    "delivery_uncertain": "check the mailbox, then retry or skip",
}


class RecipientWorkflowError(ApplicationError):
    pass


@workflow.defn
class RecipientWorkflow:
    @workflow.init
    def __init__(self, input: RecipientInput) -> None:
        self._input = input
        self._definition = input.definition
        self._state = input.state or self._new_state(input)
        self._changes = 0  # bumped by every handler; the main loop sleeps until it moves
        self._dispatch: workflow.ActivityHandle[DispatchResult] | None = None
        self._dispatch_outcome: str | None = None
        self._halting = 0  # handlers cancelling a dispatch; the loop must not start another
        self._projection_lock = asyncio.Lock()
        self._projected_version = -1
        self._clock_floor = datetime.min.replace(tzinfo=UTC)
        self._final = False
        self._projection_stale = False
        self._wake_for_projection = False

    # ---- main loop -------------------------------------------------------------------------

    @workflow.run
    async def run(self, input: RecipientInput) -> RecipientView:
        if input.state is None and workflow.patched("sequence-state-at-start"):
            # Enrolled while the sequence is paused (or as it pauses): start held. Read after
            # we exist, so a pause acknowledged later reaches us through the fan-out instead.
            change = await workflow.execute_local_activity(
                "read_sequence_state",
                input.sequence_id,
                result_type=SequenceStateChange,
                start_to_close_timeout=PROJECTION_TIMEOUT,
            )
            if change.epoch > 0:
                await self.sequence_state(change)
        await self._sync()
        while not self._ended():
            # Only between handlers: one may be waiting for work this loop has to do.
            if self._should_continue_as_new() and workflow.all_handlers_finished():
                workflow.continue_as_new(input.model_copy(update={"state": self._state}))
            await self._advance_once()
            await self._sync()
        # A late signal (say, an unsubscribe) may arrive while we project: settle both.
        while True:
            await workflow.wait_condition(workflow.all_handlers_finished)
            await self._sync()
            if workflow.all_handlers_finished():
                break
        if workflow.patched("final-view"):
            # Keep the last view in the store: it outlives Temporal's retention.
            self._final = True
            self._bump()
            await self._sync()
        # An ended recipient has no next change to carry a missed projection: insist a while.
        for _ in range(FINAL_PROJECTION_TRIES):
            if not self._projection_stale:
                break
            await workflow.sleep(PROJECTION_RECHECK)
            await self._sync()
        return self._view()

    async def _advance_once(self) -> None:
        """Do the next thing the state calls for, or sleep until something changes."""
        st = self._state
        now = self._now()
        if st.current_step >= len(self._definition.steps):
            self._finish(now)
            return
        if st.status is S.NOT_STARTED:
            assert self._input.start_at is not None
            if now < self._input.start_at:
                await self._sleep_until(self._input.start_at)
            else:
                self._set_status(S.IN_PROGRESS)
                self._record("started")
                if st.sequence_paused:
                    await self._hold_for_sequence(now)  # starts held until the sequence resumes
            return
        if st.status is S.PAUSED:
            until = st.pause.until if st.pause else None
            if until is not None and now >= until:
                self._resume(SYSTEM, reason="pause_until_reached")
            else:
                await self._sleep_until(until)
            return
        if st.status in (S.ERROR, S.PENDING_ACTION):
            await self._sleep_until(None)
            return
        # In Progress (or still running after a response): wait out the delay, then act.
        assert st.due_at is not None
        if st.held_until is not None and now < st.held_until:
            await self._sleep_until(st.held_until)  # the pause barrier refused: look again later
            return
        fire_at = self._fire_at(st.due_at)
        if now < fire_at:
            await self._sleep_until(fire_at)
            return
        step = self._definition.steps[st.current_step]
        if self._halting:
            await self._sleep_until(None)  # a handler is cancelling this step's dispatch
        elif step.type in AUTOMATIC_STEPS or st.manual_send_at is not None:
            await self._run_dispatch()
        else:
            self._set_status(S.PENDING_ACTION)
            self._record("pending_action", step=st.current_step, type=step.type.value)

    async def _sleep_until(self, at: datetime | None) -> None:
        seen = self._changes
        if self._projection_stale:
            # The store missed our last change: wake up soon to project it again.
            at = min(at or self._now() + PROJECTION_RECHECK, self._now() + PROJECTION_RECHECK)
            self._wake_for_projection = True
        timeout = None if at is None else max(at - self._now(), timedelta(0))
        try:
            await workflow.wait_condition(lambda: self._changes != seen, timeout=timeout)
        except TimeoutError:
            if self._wake_for_projection:
                self._wake_for_projection = False
                return  # not the step's timer: the loop retries the projection
            # The timer fired, so it is at least `at` — even if the activation's clock lags
            # (seen after a worker was killed: a timed-out task replayed with an older
            # timestamp). Deciding from the fired timer keeps live runs and replays in step.
            if at is not None:
                self._clock_floor = max(self._clock_floor, at)

    def _now(self) -> datetime:
        return max(workflow.now(), self._clock_floor)

    def _wake(self) -> None:
        self._changes += 1

    # ---- dispatch --------------------------------------------------------------------------

    async def _run_dispatch(self) -> None:
        st = self._state
        index = st.current_step
        step = self._definition.steps[index]
        channel_type = StepType.EMAIL if step.type is StepType.MANUAL_EMAIL else step.type
        request = DispatchRequest(
            workspace=self._input.workspace,
            sequence_id=self._input.sequence_id,
            recipient_id=self._input.recipient_id,
            step=index,
            type=channel_type,
            content=self._content_for(index),
            contact=self._input.contact,
            sender_id=self._definition.settings.sender_id,
            dispatch_key=str(st.dispatch_rounds.get(index, 0)),
        )
        self._dispatch_outcome = None
        self._dispatch = workflow.start_activity(
            "dispatch_step",
            request,
            result_type=DispatchResult,
            start_to_close_timeout=DISPATCH_TIMEOUT,
            heartbeat_timeout=DISPATCH_HEARTBEAT_TIMEOUT,
            retry_policy=DISPATCH_RETRY,
            cancellation_type=workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
        )
        try:
            result = await self._dispatch
        except ActivityError as exc:
            kind = exc.cause.type if isinstance(exc.cause, ApplicationError) else None
            if isinstance(exc.cause, CancelledError):
                # A pause/stop/skip cancelled it before the hand-over; its handler decides.
                self._dispatch_outcome = "cancelled"
            elif kind in _NOT_SENT_YET:
                self._dispatch_outcome = "cancelled"
                self._not_sent_yet(index, kind, exc.cause)  # type: ignore[arg-type]
            else:
                self._dispatch_outcome = "failed"
                self._fail_step(index, exc)
        else:
            self._dispatch_outcome = "completed"
            self._step_sent(index, result)
        finally:
            self._dispatch = None
            self._wake()

    @asynccontextmanager
    async def _dispatch_halted(self) -> AsyncIterator[str | None]:
        """Cancel a dispatch under way, wait until it is cancelled, failed or completed, and
        yield which; no new dispatch starts until the handler's own change is made."""
        self._halting += 1
        try:
            outcome = None
            if self._dispatch is not None:
                self._dispatch.cancel()
                await workflow.wait_condition(lambda: self._dispatch is None)
                outcome = self._dispatch_outcome
            yield outcome
        finally:
            self._halting -= 1
            self._wake()

    def _step_sent(self, index: int, result: DispatchResult) -> None:
        st = self._state
        st.held_until = None
        record = st.steps[index]
        record.state = "sent"
        record.at = self._now()
        record.message_id = result.message_id
        self._record(
            "step_sent",
            step=index,
            type=record.type.value,
            message_id=result.message_id,
            already_sent=result.already_sent or None,
        )
        st.manual_send_at = None
        self._move_to_next_step(self._now())

    def _not_sent_yet(self, index: int, kind: str, cause: ApplicationError) -> None:
        """The ledger refused the claim for a reason that is not a failure of the step."""
        st = self._state
        now = self._now()
        if kind == "held":
            # The API recorded a pause that has not reached us yet; it is on its way. Look
            # again shortly in case it never comes (the API died between marker and update).
            # due_at stays: a sequence pause applies as of its acknowledged moment.
            st.held_until = now + HELD_RECHECK
        elif kind == "suppressed":
            self._set_status(S.UNSUBSCRIBED)
            self._clear_schedule()
            self._record("suppressed", step=index)
        elif kind == "sender_changed":
            # The sequence's sender changed and its fan-out has not reached us (we may have
            # started after it passed): take the new sender, and pause for a person as the
            # change would have.
            self._adopt_sender(cause.details[0] if cause.details else None)
            self._enter_pause(PauseRequest(actor=SYSTEM, reason="sender_changed"), now)
        elif kind == "sender_capped":
            # Never sooner than the recheck interval: a clock skew must not become a busy loop.
            st.due_at = max(datetime.fromisoformat(cause.details[0]), now + HELD_RECHECK)
            self._record("deferred", step=index, reason="sender daily cap", until=cause.details[0])
        self._bump()

    def _fail_step(self, index: int, exc: ActivityError) -> None:
        cause_exc = exc.cause
        cause, detail = "provider_unavailable", str(cause_exc or exc)
        if isinstance(cause_exc, ApplicationError) and cause_exc.type:
            cause, detail = cause_exc.type, cause_exc.message
        st = self._state
        if self._ended():
            # Stopped, unsubscribed, bounced or answered meanwhile: that status stands.
            self._record("step_failed", step=index, cause=cause, detail=detail)
            return
        st.steps[index].state = "failed"
        st.steps[index].at = self._now()
        st.error = ErrorInfo(
            step=index, cause=cause, fix=FIXES.get(cause, "retry the step"), detail=detail
        )
        if st.status is S.PAUSED:
            # Paused while the failing attempt ran: resuming tries the step again.
            if st.pause:
                st.pause.resume_to = S.ERROR
        else:
            self._set_status(S.ERROR)
        self._record("step_failed", step=index, cause=cause, detail=detail)

    def _move_to_next_step(self, counted_from: datetime) -> None:
        """The next step's delay counts from `counted_from` (a send, a skip, a completion)."""
        st = self._state
        ended_before = self._ended()
        st.current_step += 1
        st.error = None
        st.manual_send_at = None
        if ended_before:
            # Stopped while the step went out: record it, schedule nothing.
            self._clear_schedule()
        elif st.current_step >= len(self._definition.steps):
            self._finish(counted_from)
        else:
            due = counted_from + self._definition.steps[st.current_step].delay
            st.planned_at = st.due_at = due
            if st.status is S.PAUSED:
                # The step finished under a pause: the new delay stays frozen whole until resume.
                st.remaining = self._definition.steps[st.current_step].delay
                if st.pause and st.pause.resume_to in (S.PENDING_ACTION, S.ERROR):
                    st.pause.resume_to = S.IN_PROGRESS
        self._bump()

    def _finish(self, at: datetime) -> None:
        st = self._state
        st.due_at = st.planned_at = None
        st.remaining, st.pause = None, None
        if st.status not in RESPONSE_STATUSES:
            self._set_status(S.COMPLETED)
        self._record("completed")

    # ---- updates ---------------------------------------------------------------------------

    @workflow.update
    async def pause(self, request: PauseRequest) -> RecipientView:
        in_flight = await self._pause(request)
        return await self._answer(in_flight)

    async def _pause(self, request: PauseRequest, at: datetime | None = None) -> str | None:
        """Pause now, or as of an acknowledged moment `at` (a change that reached us late)."""
        st = self._state
        self._enter_pause(request, at or self._now())
        async with self._dispatch_halted() as in_flight:
            if in_flight == "cancelled" and st.pause:
                st.pause.resume_to = S.IN_PROGRESS  # the interrupted step is attempted again
                st.remaining = timedelta(0)
        return in_flight

    def _enter_pause(self, request: PauseRequest, now: datetime) -> None:
        st = self._state
        resume_to = S.IN_PROGRESS if st.status is S.IN_PROGRESS else st.status
        st.remaining = timing.remaining_delay(st.due_at, now) if st.due_at else None
        st.pause = PauseInfo(
            source="recipient",
            reason=request.reason,
            note=request.note,
            until=request.until,
            paused_at=now,
            actor=request.actor,
            resume_to=resume_to,
        )
        self._set_status(S.PAUSED)
        self._record(
            "paused",
            request.actor,
            source="recipient",
            reason=request.reason,
            note=request.note,
            until=request.until.isoformat() if request.until else None,
        )

    @pause.validator
    def _validate_pause(self, request: PauseRequest) -> None:
        self._check(Action.PAUSE)
        if request.until is not None and request.until <= self._now():
            raise _invalid("until must be in the future")

    @workflow.update
    async def resume(self, request: ActionRequest) -> RecipientView:
        self._resume(request.actor)
        return await self._answer()

    @resume.validator
    def _validate_resume(self, request: ActionRequest) -> None:
        self._check(Action.RESUME)

    def _resume(
        self, actor: str, reason: str | None = None, resumed_at: datetime | None = None
    ) -> None:
        st = self._state
        now = resumed_at or self._now()
        pause = st.pause
        assert pause is not None
        target = pause.resume_to
        if target is S.ERROR:
            # Resuming from an error attempts the errored step again (a fresh ledger claim) —
            # except after an uncertain delivery: only a person who checked the mailbox may
            # send it again (retry), so the same claim comes back uncertain.
            uncertain = st.error is not None and st.error.cause == "delivery_uncertain"
            target, st.error = S.IN_PROGRESS, None
            if not uncertain:
                st.dispatch_rounds[st.current_step] = st.dispatch_rounds.get(st.current_step, 0) + 1
            st.due_at = now
            st.steps[st.current_step].state = "pending"
        elif st.remaining is not None and st.planned_at is not None:
            st.due_at = timing.due_after_resume(
                self._definition.settings.resume_policy,
                resumed_at=now,
                remaining=st.remaining,
                planned_at=st.planned_at,
            )
        st.pause, st.remaining, st.held_until = None, None, None
        self._set_status(target)
        self._record("resumed", actor, **({"reason": reason} if reason else {}))

    @workflow.update
    async def skip(self, request: SkipRequest) -> RecipientView:
        st = self._state
        index = st.current_step
        async with self._dispatch_halted() as in_flight:
            # Went out before the skip landed, or a concurrent skip (a double click) already
            # moved on: there is nothing left to skip.
            if in_flight == "completed" or st.current_step != index or self._ended():
                return await self._answer(in_flight)
            now = self._now()
            st.steps[index].state = "skipped"
            st.steps[index].at = now
            self._record("step_skipped", request.actor, step=index)
            if st.status in (S.ERROR, S.PENDING_ACTION):
                self._set_status(S.IN_PROGRESS)
            self._move_to_next_step(now)
        return await self._answer(in_flight)

    @skip.validator
    def _validate_skip(self, request: SkipRequest) -> None:
        self._check(Action.SKIP)
        current = self._state.current_step
        if request.step is not None and request.step != current:
            # Two people (or a double click) skipping "step N": only the first one does.
            raise self._rejection(
                f"step {request.step} is no longer the current step (now {current})"
            )

    @workflow.update
    async def stop(self, request: ActionRequest) -> RecipientView:
        self._set_status(S.STOPPED)
        self._clear_schedule()
        self._record("stopped", request.actor)
        async with self._dispatch_halted() as in_flight:
            pass
        return await self._answer(in_flight)

    @stop.validator
    def _validate_stop(self, request: ActionRequest) -> None:
        self._check(Action.STOP)

    @workflow.update
    async def exclude(self, request: ActionRequest) -> RecipientView:
        self._set_status(S.EXCLUDED)
        self._clear_schedule()
        self._record("excluded", request.actor)
        return await self._answer()

    @exclude.validator
    def _validate_exclude(self, request: ActionRequest) -> None:
        self._check(Action.EXCLUDE)

    @workflow.update
    async def retry(self, request: ActionRequest) -> RecipientView:
        self._retry_now(request.actor)
        return await self._answer()

    @retry.validator
    def _validate_retry(self, request: ActionRequest) -> None:
        self._check(Action.RETRY)

    def _retry_now(self, actor: str) -> None:
        st = self._state
        st.dispatch_rounds[st.current_step] = st.dispatch_rounds.get(st.current_step, 0) + 1
        st.error = None
        st.due_at = self._now()
        st.steps[st.current_step].state = "pending"
        self._set_status(S.IN_PROGRESS)
        self._record("retried", actor, step=st.current_step)

    @workflow.update
    async def complete_task(self, request: ActionRequest) -> RecipientView:
        st = self._state
        index = st.current_step
        now = self._now()
        st.steps[index].state = "completed"
        st.steps[index].at = now
        self._record("task_completed", request.actor, step=index)
        self._set_status(S.IN_PROGRESS)
        self._move_to_next_step(now)
        return await self._answer()

    @complete_task.validator
    def _validate_complete_task(self, request: ActionRequest) -> None:
        self._check(Action.COMPLETE_TASK)

    @workflow.update
    async def send_manual_email(self, request: SendManualEmailRequest) -> RecipientView:
        st = self._state
        index = st.current_step
        now = self._now()
        at = max(request.at or now, now)
        st.manual_send_at = st.due_at = st.planned_at = at
        self._set_status(S.IN_PROGRESS)
        self._record("manual_email_scheduled", request.actor, step=index, at=at.isoformat())
        if at <= now:
            # Sending now: answer once it was sent (or failed, or a pause stopped it).
            await workflow.wait_condition(
                lambda: st.current_step != index or st.status is not S.IN_PROGRESS
            )
        return await self._answer()

    @send_manual_email.validator
    def _validate_send_manual_email(self, request: SendManualEmailRequest) -> None:
        self._check(Action.SEND_MANUAL_EMAIL)
        if request.at is not None and request.at.tzinfo is None:
            raise _invalid("at needs a time zone, e.g. 2026-12-01T09:00:00Z")

    @workflow.update
    async def edit_content(self, request: EditContentRequest) -> RecipientView:
        st = self._state
        merged = self._content_for(request.step).model_copy(
            update=request.content.model_dump(exclude_none=True)
        )
        st.content_overrides[request.step] = merged
        self._record("content_edited", request.actor, step=request.step)
        if st.status is S.ERROR and request.step == st.current_step:
            self._retry_now(request.actor)  # fixing the content retries the errored step
        self._bump()
        return await self._answer()

    @edit_content.validator
    def _validate_edit_content(self, request: EditContentRequest) -> None:
        self._check(Action.EDIT_CONTENT)
        if not 0 <= request.step < len(self._definition.steps):
            raise _invalid(f"step must be between 0 and {len(self._definition.steps) - 1}")
        if not self._step_editable(request.step):
            raise _invalid(f"step {request.step} was already reached; only future steps change")

    def _step_editable(self, index: int) -> bool:
        st = self._state
        if index > st.current_step:
            return True
        return (
            index == st.current_step
            and st.steps[index].state in ("pending", "failed")
            and self._dispatch is None
        )

    # ---- signals ---------------------------------------------------------------------------

    @workflow.signal
    async def inbound(self, event: InboundEvent) -> None:
        st = self._state
        if event.event_id in st.seen_events:
            return
        st.seen_events.append(event.event_id)
        self._record(f"inbound_{event.kind}", SYSTEM, event_id=event.event_id, **event.details)
        if self._ended() and event.kind != "unsubscribe":
            return  # recorded for reporting; nothing left to change
        outcome = {
            "reply": S.RESPONDED,
            "meeting": S.MEETING_BOOKED,
            "hard_bounce": S.BOUNCED,
            "unsubscribe": S.UNSUBSCRIBED,
        }.get(event.kind)
        if outcome is not None:
            ends = ends_sequence(
                outcome, stop_on_response=self._definition.settings.stop_on_response
            )
            if ends:
                self._set_status(outcome)
                self._clear_schedule()
                async with self._dispatch_halted():
                    pass
            elif st.status is S.IN_PROGRESS:
                # Stop-on-response off: they keep going, labelled by what they did.
                self._set_status(outcome)
            elif st.status is S.PAUSED and st.pause and st.pause.resume_to is S.IN_PROGRESS:
                st.pause.resume_to = outcome
            # Pending Action / Error keep their status: a person still has to act on them.
        elif event.kind == "out_of_office" and Action.PAUSE in self._allowed():
            await self._pause(PauseRequest(actor=SYSTEM, reason="out_of_office", until=event.until))
        await self._sync()

    @workflow.signal
    async def sequence_state(self, change: SequenceStateChange) -> None:
        await self._apply_sequence_state(change)
        await self._sync()

    @workflow.update
    async def apply_sequence_state(self, change: SequenceStateChange) -> RecipientProjection | None:
        """The fan-out's way in: apply the change and hand back our projection, which the
        fan-out writes with its whole page in one statement (no local activity per recipient:
        that halves the worker's work per recipient, the bottleneck of a large fan-out)."""
        await self._apply_sequence_state(change)
        return self._handed_projection()

    async def _apply_sequence_state(self, change: SequenceStateChange) -> None:
        st = self._state
        if change.epoch <= st.sequence_epoch:
            return  # an older (or repeated) change: the newest acknowledged one stands
        st.sequence_epoch, st.sequence_paused = change.epoch, change.paused
        # Applied as of the acknowledged moment, however late the fan-out reached us (but
        # never before we were enrolled).
        at = max(change.at, st.timeline[0].at)
        if change.paused:
            await self._hold_for_sequence(at)
        elif st.status is S.PAUSED and st.pause and st.pause.source == "sequence":
            self._resume(SYSTEM, reason="sequence_resumed", resumed_at=max(at, st.pause.paused_at))
        self._bump()

    @workflow.signal
    def sequence_content(self, edit: StepContentChange) -> None:
        st = self._state
        if edit.version <= st.definition_version:
            return
        st.definition_version = edit.version
        if edit.step in st.content_overrides or not self._step_editable(edit.step):
            return  # a personal edit wins; a step already reached keeps what it had
        step = self._definition.steps[edit.step]
        self._definition.steps[edit.step] = step.model_copy(update={"content": edit.content})
        self._record("sequence_content_changed", SYSTEM, step=edit.step, version=edit.version)

    @workflow.signal
    async def sequence_sender(self, change: SenderChange) -> None:
        st = self._state
        if change.version <= st.sender_version:
            return
        st.sender_version = change.version
        if self._definition.settings.sender_id == change.sender_id:
            # Enrolled with it already, or adopted at the ledger's barrier: nothing changes,
            # but project again (the API's bulk statement may have shown us paused).
            self._bump()
            await self._sync()
            return
        # As of the acknowledged moment, but never before what last happened to us.
        at = max(change.at, st.timeline[-1].at)
        self._adopt_sender(change.sender_id)
        if change.sequence_paused or self._ended():
            return  # held by the paused sequence: its resume is the go-ahead
        pause = PauseRequest(actor=SYSTEM, reason="sender_changed")
        if self._running():
            await self._pause(pause, at)
        elif st.status is S.PAUSED and st.pause and st.pause.source == "sequence":
            # A sequence pause acknowledged after the change reached us first: we were
            # running when the sender changed, so a person has to resume us, not the sequence.
            st.pause = st.pause.model_copy(
                update={"source": "recipient", "reason": "sender_changed", "actor": SYSTEM}
            )
            self._record("paused", SYSTEM, source="recipient", reason="sender_changed")
        self._bump()
        await self._sync()

    def _adopt_sender(self, sender_id: str | None) -> None:
        settings = self._definition.settings
        self._definition.settings = settings.model_copy(update={"sender_id": sender_id})
        self._record("sender_changed", SYSTEM, sender_id=sender_id)

    def _running(self) -> bool:
        """Would go on sending: what a sequence pause or a sender change holds."""
        st = self._state
        return st.status in actions.HELD_BY_SEQUENCE_PAUSE or (
            st.status in RESPONSE_STATUSES and not self._ended()
        )

    async def _hold_for_sequence(self, at: datetime) -> None:
        st = self._state
        if not self._running():
            return  # individually paused, in error or ended: they keep their status
        st.remaining = timing.remaining_delay(st.due_at, at) if st.due_at else None
        st.pause = PauseInfo(source="sequence", paused_at=at, resume_to=st.status)
        self._set_status(S.PAUSED)
        self._record("paused", SYSTEM, source="sequence", at=at.isoformat())
        async with self._dispatch_halted() as in_flight:
            if in_flight == "cancelled" and st.pause:
                st.pause.resume_to = S.IN_PROGRESS
                st.remaining = timedelta(0)

    # ---- queries ---------------------------------------------------------------------------

    @workflow.query
    def view(self) -> RecipientView:
        return self._view()

    @workflow.query
    def content(self) -> list[ContentView]:
        context = self._input.contact.template_context()
        views = []
        for index, step in enumerate(self._definition.steps):
            content = self._content_for(index)
            resolved, error = None, None
            try:
                resolved = StepContent(
                    **{
                        name: render(value, context)
                        for name, value in content.model_dump(exclude_none=True).items()
                    }
                )
            except TemplateProblem as exc:
                error = exc.detail
            views.append(
                ContentView(
                    index=index,
                    type=step.type,
                    state=self._state.steps[index].state,
                    resolved=resolved,
                    error=error,
                    edited=index in self._state.content_overrides,
                )
            )
        return views

    # ---- helpers ---------------------------------------------------------------------------

    @staticmethod
    def _new_state(input: RecipientInput) -> RecipientState:
        now = workflow.now()
        start = input.start_at if input.start_at and input.start_at > now else now
        due = start + input.definition.steps[0].delay
        return RecipientState(
            definition_version=input.definition.version,
            status=S.NOT_STARTED if start > now else S.IN_PROGRESS,
            planned_at=due,
            due_at=due,
            steps=[
                StepRecord(index=i, type=step.type) for i, step in enumerate(input.definition.steps)
            ],
            timeline=[
                TimelineEntry(
                    at=now,
                    kind="enrolled",
                    actor=input.enrolled_by,
                    details={"start_at": start.isoformat()},
                )
            ],
        )

    def _content_for(self, index: int) -> StepContent:
        return self._state.content_overrides.get(index, self._definition.steps[index].content)

    def _fire_at(self, due_at: datetime) -> datetime:
        """When the current step runs. The sending window is for automatic sends: a step for
        a person becomes Pending Action when due, and their "send now / at" is their call."""
        st = self._state
        steps = self._definition.steps
        automatic = st.current_step < len(steps) and steps[st.current_step].type in AUTOMATIC_STEPS
        if not automatic or st.manual_send_at is not None:
            return due_at
        return timing.fire_time(due_at, self._window())

    def _window(self) -> timing.SendingWindow | None:
        schedule = self._definition.settings.schedule
        if schedule is None:
            return None
        return timing.SendingWindow.of(
            schedule.timezone, schedule.days, schedule.start, schedule.end
        )

    def _situation(self) -> actions.RecipientSituation:
        st = self._state
        steps = self._definition.steps
        return actions.RecipientSituation(
            status=st.status,
            sequence_paused=st.sequence_paused,
            stop_on_response=self._definition.settings.stop_on_response,
            steps_left=st.current_step < len(steps),
            current_step_type=steps[st.current_step].type if st.current_step < len(steps) else None,
        )

    def _allowed(self) -> list[Action]:
        return actions.allowed_actions(self._situation())

    def _check(self, action: Action) -> None:
        try:
            actions.check(action, self._situation())
        except actions.ActionRejected as exc:
            raise self._rejection(exc.reason) from None

    def _rejection(self, reason: str) -> ApplicationError:
        """A 409 for the API: what is wrong, the status now and what is allowed instead."""
        return RecipientWorkflowError(
            reason,
            {
                "status_now": self._state.status.value,
                "allowed_actions": [a.value for a in self._allowed()],
            },
            type="ActionRejected",
            non_retryable=True,
        )

    def _ended(self) -> bool:
        st = self._state
        if st.status in RESPONSE_STATUSES and st.current_step >= len(self._definition.steps):
            return True  # responded with stop-on-response off, and every step is done
        return ends_sequence(st.status, stop_on_response=self._definition.settings.stop_on_response)

    def _clear_schedule(self) -> None:
        st = self._state
        st.due_at = st.planned_at = st.remaining = st.manual_send_at = None

    def _set_status(self, status: RecipientStatus) -> None:
        if self._state.status is not status:
            self._state.status = status
            self._bump()

    def _bump(self) -> None:
        self._state.version += 1
        self._wake()

    def _record(self, kind: str, actor: str = SYSTEM, **details: object) -> None:
        self._state.timeline.append(
            TimelineEntry(
                at=self._now(),
                kind=kind,
                actor=actor,
                details={k: v for k, v in details.items() if v is not None},
            )
        )
        self._bump()

    def _next_step_at(self) -> datetime | None:
        st = self._state
        if st.status is S.NOT_STARTED and self._input.start_at:
            return self._fire_at(st.due_at or self._input.start_at)
        running = st.status is S.IN_PROGRESS or (
            st.status in RESPONSE_STATUSES and not self._ended()
        )
        if running and st.due_at is not None:
            return self._fire_at(st.due_at)
        return None

    def _view(self, in_flight: str | None = None) -> RecipientView:
        st = self._state
        return RecipientView(
            id=self._input.recipient_id,
            sequence_id=self._input.sequence_id,
            contact_id=self._input.contact_id,
            contact=self._input.contact,
            status=st.status,
            current_step=st.current_step,
            next_step_at=self._next_step_at(),
            pause=st.pause,
            error=st.error,
            allowed_actions=[a.value for a in actions.allowed_actions(self._situation())],
            steps=st.steps,
            timeline=st.timeline,
            in_flight=in_flight,  # type: ignore[arg-type]
        )

    async def _answer(self, in_flight: str | None = None) -> RecipientView:
        await self._sync()
        return self._view(in_flight)

    def _should_continue_as_new(self) -> bool:
        info = workflow.info()
        return (
            info.is_continue_as_new_suggested()
            or info.get_current_history_length() >= self._input.history_event_limit
        )

    async def _sync(self) -> None:
        """Show the newest state in the Temporal UI and project it into the store."""
        st = self._state
        if self._projected_version == st.version:
            return
        async with self._projection_lock:
            version = st.version
            if self._projected_version >= version:
                return
            next_at = self._show()
            try:
                await workflow.execute_local_activity(
                    "project_recipient",
                    self._projection(version, next_at),
                    start_to_close_timeout=PROJECTION_TIMEOUT,
                    retry_policy=PROJECTION_RETRY,
                )
            except (ActivityError, TimeoutError, TemporalTimeoutError):
                # (A local activity's timeout surfaces as a bare TimeoutError on replay.)
                # The store is unreachable: the recipient goes on (Temporal is the truth) and
                # projects again shortly (see _sleep_until); the list catches up then.
                workflow.logger.warning("projection of version %s failed", version)
                self._projection_stale = True
                return
            self._projected_version = max(self._projected_version, version)
            self._projection_stale = False

    def _handed_projection(self) -> RecipientProjection | None:
        """Show the newest state and hand its projection to a caller that writes it (None once
        ending: the final projection, with the kept view, is ours to write)."""
        st = self._state
        if self._final:
            return None
        next_at = self._show() if self._projected_version < st.version else self._next_step_at()
        self._projected_version = max(self._projected_version, st.version)
        self._projection_stale = False
        return self._projection(st.version, next_at)

    def _show(self) -> datetime | None:
        """The state in the Temporal UI: search attributes and a one-line summary."""
        st = self._state
        steps = len(self._definition.steps)
        next_at = self._next_step_at()
        workflow.upsert_search_attributes(
            [STATUS_KEY.value_set(st.status.value), STEP_KEY.value_set(st.current_step)]
        )
        summary = f"{st.status.value} · step {min(st.current_step + 1, steps)}/{steps}"
        if st.current_step < steps:
            summary += f" · {self._definition.steps[st.current_step].type.value}"
        if next_at:
            summary += f" · due {next_at:%Y-%m-%d %H:%M} UTC"
        workflow.set_current_details(summary)
        return next_at

    def _projection(self, version: int, next_at: datetime | None) -> RecipientProjection:
        st = self._state
        return RecipientProjection(
            workspace=self._input.workspace,
            sequence_id=self._input.sequence_id,
            recipient_id=self._input.recipient_id,
            status=st.status,
            current_step=st.current_step,
            next_step_at=next_at,
            pause_source=st.pause.source if st.pause else None,
            version=version,
            error_cause=st.error.cause if st.error else None,
            final_view=self._view().model_dump(mode="json") if self._final else None,
        )


def _invalid(message: str) -> ApplicationError:
    return ApplicationError(message, type="InvalidRequest", non_retryable=True)
