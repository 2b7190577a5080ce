"""RecipientWorkflow: one contact walking one sequence, on a delay clock that freezes on pause.

The workflow is a small interpreter over the recipient's state: every handler changes it and
wakes the main loop, which re-decides from the state alone what to wait for next. So a pause,
skip or edit takes effect at once, and continue-as-new only has to carry the state. What each
change does is domain.recipient's (pure, unit-tested); this module owns waiting and handlers,
workflows/recipient_dispatch.py the dispatch, workflows/recipient_projection.py what is shown.

Updates (validated against domain.actions, so a rejected action never reaches history):
    pause, resume, skip, stop, retry, exclude, complete_task, send_manual_email, edit_content,
    apply_sequence_state (the sequence fan-out: a pause/resume, answered with our projection)
Signals: inbound (reply, meeting, bounce, unsubscribe, out-of-office; deduplicated by id),
         sequence_state (the sequence paused/resumed: applied as of its acknowledged moment),
         sequence_content (sequence content edited), sequence_sender (sender changed),
         sender_vacations (the sender's vacations: held during each, by our own clock),
         project_again (a bulk statement showed what we refused: write our own state again)
Queries: view, content
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.projection import StoreProjector
    from domain import actions
    from domain.models import SYSTEM
    from domain.recipient import EventEffect, Recipient
    from domain.statuses import Action, DispatchOutcome
    from domain.statuses import RecipientStatus as S
    from workflows import contract
    from workflows.models import (
        ActionRequest,
        ContentView,
        EditContentRequest,
        InboundEvent,
        PauseRequest,
        RecipientInput,
        RecipientProjection,
        RecipientView,
        SenderChange,
        SenderVacations,
        SendManualEmailRequest,
        SequenceStateChange,
        SkipRequest,
        StepContentChange,
    )
    from workflows.recipient_dispatch import RecipientDispatch
    from workflows.recipient_projection import (
        PROJECTION_RECHECK,
        PROJECTION_TIMEOUT,
        RecipientShown,
    )

FINAL_PROJECTION_TRIES = 20


class RecipientWorkflowError(ApplicationError):
    pass


@workflow.defn
class RecipientWorkflow:
    @workflow.init
    def __init__(self, input: RecipientInput) -> None:
        self._input = input
        self._changes = 0  # bumped by every change; the main loop sleeps until it moves
        self._clock_floor = datetime.min.replace(tzinfo=UTC)
        self._wake_for_projection = False
        zone = input.contact.timezone
        state = input.state or Recipient.new_state(
            input.definition, input.start_at, workflow.now(), input.enrolled_by, zone
        )
        self._r = Recipient(
            state,
            input.definition,
            clock=self._now,
            on_change=self._wake,
            start_at=input.start_at,
            timezone=zone,
            # Holds compose (sender vacations among them) for runs started on this code; a
            # recipient running since before keeps the one-hold rules until it continues as new.
            composed=workflow.patched("composed-holds"),
        )
        self._dispatch = RecipientDispatch(self._r, input, self._wake)
        self._shown = RecipientShown(self._r, input)

    # ---- main loop -------------------------------------------------------------------------

    @workflow.run
    async def run(self, input: RecipientInput) -> RecipientView:
        if input.state is None and workflow.patched("sequence-state-at-start"):
            # Enrolled while the sequence is paused (or as it pauses): start held. Read after
            # we exist, so a pause acknowledged later reaches us through the fan-out instead.
            if self._r.composed:
                holds = await workflow.execute_local_activity_method(
                    StoreProjector.read_starting_holds,
                    input.sequence_id,
                    start_to_close_timeout=PROJECTION_TIMEOUT,
                )
                change = holds.sequence
                if holds.vacations is not None:  # enrolled during a vacation: start held
                    self._r.take_vacations(holds.vacations.vacations, holds.vacations.version)
            else:
                change = await workflow.execute_local_activity_method(
                    StoreProjector.read_sequence_state,
                    input.sequence_id,
                    start_to_close_timeout=PROJECTION_TIMEOUT,
                )
            if change.epoch > 0:
                await self.sequence_state(change)
        await self._shown.sync()
        while not self._r.ended():
            # Only between handlers: one may be waiting for work this loop has to do.
            if self._should_continue_as_new() and workflow.all_handlers_finished():
                workflow.continue_as_new(input.model_copy(update={"state": self._r.state}))
            await self._advance_once()
            await self._shown.sync()
        # A late signal (say, an unsubscribe) may arrive while we project: settle both.
        while True:
            await workflow.wait_condition(workflow.all_handlers_finished)
            await self._shown.sync()
            if workflow.all_handlers_finished():
                break
        if workflow.patched("final-view"):
            # Keep the last view in the store: it outlives Temporal's retention.
            self._shown.final = True
            self._r.bump()
            await self._shown.sync()
        # An ended recipient has no next change to carry a missed projection: insist a while.
        for _ in range(FINAL_PROJECTION_TRIES):
            if not self._shown.stale:
                break
            await workflow.sleep(PROJECTION_RECHECK)
            await self._shown.sync()
        return self._shown.view()

    async def _advance_once(self) -> None:
        """Do the next thing the state calls for, or sleep until something changes."""
        r, st = self._r, self._r.state
        now = self._now()
        if not r.steps_left():
            r.finish(now)
            return
        if await self._follow_vacations():
            return
        if st.status is S.NOT_STARTED:
            assert self._input.start_at is not None
            if now < self._input.start_at:
                await self._sleep_until(self._input.start_at)
            else:
                r.start()
                if st.sequence_paused:
                    await self._hold_for_sequence(now)  # starts held until the sequence resumes
            return
        if st.status is S.PAUSED:
            if r.pause_until_reached(now):
                r.resume_own(SYSTEM, reason="pause_until_reached")
            else:
                await self._sleep_until(r.own_until())
            return
        if st.status in (S.ERROR, S.PENDING_ACTION):
            await self._sleep_until(None)
            return
        # In Progress (or still running after a response): wait out the delay, then act.
        assert st.due_at is not None
        if st.held_until is not None and now < st.held_until:
            await self._sleep_until(st.held_until)  # the pause barrier refused: look again later
            return
        fire_at = r.fire_at(st.due_at)
        if now < fire_at:
            await self._sleep_until(fire_at)
            return
        if self._dispatch.halting:
            await self._sleep_until(None)  # a handler is halting this step's dispatch
        elif r.current_step_is_automatic() or st.manual_send_at is not None:
            await self._dispatch.run()
        else:
            r.wait_for_person()

    async def _sleep_until(self, at: datetime | None) -> None:
        seen = self._changes
        if self._r.composed:
            # A vacation starts or ends meanwhile: wake for it.
            moment = self._r.next_vacation_moment(self._now())
            if moment is not None and (at is None or moment < at):
                at = moment
        if self._shown.stale:
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

    def _should_continue_as_new(self) -> bool:
        info = workflow.info()
        return (
            info.is_continue_as_new_suggested()
            or info.get_current_history_length() >= self._input.history_event_limit
        )

    async def _answer(self, in_flight: DispatchOutcome | None = None) -> RecipientView:
        await self._shown.sync()
        return self._shown.view(in_flight)

    # ---- updates ---------------------------------------------------------------------------

    @workflow.update
    async def pause(self, request: PauseRequest) -> RecipientView:
        in_flight = await self._pause(request)
        return await self._answer(in_flight)

    async def _pause(
        self, request: PauseRequest, at: datetime | None = None
    ) -> DispatchOutcome | None:
        """Pause now, or as of an acknowledged moment `at` (a change that reached us late)."""
        self._r.enter_pause(
            at=at or self._now(),
            actor=request.actor,
            reason=request.reason,
            note=request.note,
            until=request.until,
        )
        async with self._dispatch.halted() as in_flight:
            if in_flight is DispatchOutcome.CANCELLED:
                self._r.dispatch_interrupted()
        return in_flight

    @pause.validator
    def _validate_pause(self, request: PauseRequest) -> None:
        self._check(Action.PAUSE)
        if request.until is not None and request.until <= self._now():
            raise _invalid("until must be in the future")

    @workflow.update
    async def resume(self, request: ActionRequest) -> RecipientView:
        # Lifts the recipient's own hold; held by another, it stays paused (the answer says by
        # whom).
        self._r.resume_own(request.actor)
        return await self._answer()

    @resume.validator
    def _validate_resume(self, request: ActionRequest) -> None:
        self._check(Action.RESUME)

    @workflow.update
    async def skip(self, request: SkipRequest) -> RecipientView:
        r = self._r
        index = r.state.current_step
        async with self._dispatch.halted() as in_flight:
            # Went out before the skip landed, or a concurrent skip (a double click) already
            # moved on: there is nothing left to skip.
            if in_flight is DispatchOutcome.COMPLETED or r.state.current_step != index or r.ended():
                return await self._answer(in_flight)
            r.skip(request.actor, index)
        return await self._answer(in_flight)

    @skip.validator
    def _validate_skip(self, request: SkipRequest) -> None:
        self._check(Action.SKIP)
        current = self._r.state.current_step
        if request.step is not None and request.step != current:
            # Two people (or a double click) skipping "step N": only the first one does.
            raise self._rejection(
                f"step {request.step} is no longer the current step (now {current})"
            )

    @workflow.update
    async def stop(self, request: ActionRequest) -> RecipientView:
        self._r.stop(request.actor)
        async with self._dispatch.halted() as in_flight:
            pass
        return await self._answer(in_flight)

    @stop.validator
    def _validate_stop(self, request: ActionRequest) -> None:
        self._check(Action.STOP)

    @workflow.update
    async def exclude(self, request: ActionRequest) -> RecipientView:
        self._r.exclude(request.actor)
        return await self._answer()

    @exclude.validator
    def _validate_exclude(self, request: ActionRequest) -> None:
        self._check(Action.EXCLUDE)

    @workflow.update
    async def retry(self, request: ActionRequest) -> RecipientView:
        self._r.retry_now(request.actor)
        return await self._answer()

    @retry.validator
    def _validate_retry(self, request: ActionRequest) -> None:
        self._check(Action.RETRY)

    @workflow.update
    async def complete_task(self, request: ActionRequest) -> RecipientView:
        self._r.complete_task(request.actor)
        return await self._answer()

    @complete_task.validator
    def _validate_complete_task(self, request: ActionRequest) -> None:
        self._check(Action.COMPLETE_TASK)

    @workflow.update
    async def send_manual_email(self, request: SendManualEmailRequest) -> RecipientView:
        st = self._r.state
        index = st.current_step
        if self._r.schedule_manual_email(request.actor, request.at) <= self._now():
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
        self._r.edit_content(request.actor, request.step, request.content)
        return await self._answer()

    @edit_content.validator
    def _validate_edit_content(self, request: EditContentRequest) -> None:
        self._check(Action.EDIT_CONTENT)
        steps = len(self._r.definition.steps)
        if not 0 <= request.step < steps:
            raise _invalid(f"step must be between 0 and {steps - 1}")
        if not self._r.step_editable(request.step, dispatching=self._dispatch.running):
            raise _invalid(f"step {request.step} was already reached; only future steps change")

    @workflow.update
    async def apply_sequence_state(self, change: SequenceStateChange) -> RecipientProjection | None:
        """The fan-out's way in: apply the change and hand back our projection, which the
        fan-out writes with its whole page in one statement (no local activity per recipient:
        that halves the worker's work per recipient, the bottleneck of a large fan-out)."""
        await self._apply_sequence_state(change)
        return self._shown.handed()

    # ---- signals ---------------------------------------------------------------------------

    @workflow.signal
    async def inbound(self, event: InboundEvent) -> None:
        effect = self._r.apply_event(event.event_id, event.kind, event.details)
        if effect in (EventEffect.DUPLICATE, EventEffect.RECORDED):
            return
        if effect is EventEffect.ENDS:
            async with self._dispatch.halted():
                pass
        elif effect is EventEffect.PAUSES:
            await self._pause(PauseRequest(actor=SYSTEM, reason="out_of_office", until=event.until))
        await self._shown.sync()

    @workflow.signal
    async def sequence_state(self, change: SequenceStateChange) -> None:
        await self._apply_sequence_state(change)
        await self._shown.sync()

    async def _apply_sequence_state(self, change: SequenceStateChange) -> None:
        r = self._r
        if not r.takes_sequence_change(change.epoch, change.paused):
            return  # an older (or repeated) change: the newest acknowledged one stands
        at = r.as_of(change.at)
        if change.paused:
            await self._hold_for_sequence(at)
        else:
            r.release_sequence_hold(at)
        r.bump()

    async def _hold_for_sequence(self, at: datetime) -> None:
        if not self._r.hold_for_sequence(at):
            return  # individually paused, in error or ended: they keep their status
        await self._halt_for_hold()

    async def _halt_for_hold(self) -> None:
        async with self._dispatch.halted() as in_flight:
            if in_flight is DispatchOutcome.CANCELLED:
                self._r.dispatch_interrupted()

    async def _follow_vacations(self) -> bool:
        """Held (or released) for the sender's vacations as they say now. True if that
        changed anything."""
        r = self._r
        if not r.composed:
            return False
        before = r.state.version
        if r.follow_vacations(self._now()):
            await self._halt_for_hold()
        return r.state.version != before

    @workflow.signal
    async def sender_vacations(self, told: SenderVacations) -> None:
        r = self._r
        if not r.composed or told.sender_id != r.definition.settings.sender_id:
            return  # one-hold rules (the barrier still holds its messages), or another sender
        r.take_vacations(told.vacations, told.version)
        await self._follow_vacations()
        await self._shown.sync()

    @workflow.signal
    def sequence_content(self, edit: StepContentChange) -> None:
        self._r.take_sequence_content(
            edit.version, edit.step, edit.content, dispatching=self._dispatch.running
        )

    @workflow.signal
    async def sequence_sender(self, change: SenderChange) -> None:
        r, st = self._r, self._r.state
        if change.version <= st.sender_version:
            return
        st.sender_version = change.version
        if r.definition.settings.sender_id == change.sender_id:
            # Enrolled with it already, or adopted at the ledger's barrier: nothing changes,
            # but project again (the API's bulk statement may have shown us paused).
            r.bump()
            await self._shown.sync()
            return
        # As of the acknowledged moment, but never before what last happened to us.
        at = max(change.at, st.timeline[-1].at)
        r.adopt_sender(change.sender_id)
        if change.sequence_paused or r.ended():
            return  # held by the paused sequence: its resume is the go-ahead
        if r.running():
            await self._pause(PauseRequest(actor=SYSTEM, reason="sender_changed"), at)
        elif r.held_by_sequence() or (r.composed and r.holds()):
            r.sender_change_lands_on_sequence_hold()
        r.bump()
        await self._shown.sync()

    @workflow.signal
    async def project_again(self) -> None:
        self._r.bump()
        await self._shown.sync()

    # ---- queries ---------------------------------------------------------------------------

    @workflow.query
    def view(self) -> RecipientView:
        return self._shown.view()

    @workflow.query
    def content(self) -> list[ContentView]:
        return self._shown.content(dispatching=self._dispatch.running)

    # ---- validation ------------------------------------------------------------------------

    def _check(self, action: Action) -> None:
        try:
            actions.check(action, self._r.situation())
        except actions.ActionRejected as exc:
            raise self._rejection(exc.reason) from None

    def _rejection(self, reason: str) -> ApplicationError:
        """A 409 for the API: what is wrong, the status now and what is allowed instead."""
        return RecipientWorkflowError(
            reason,
            {
                "status_now": self._r.state.status.value,
                "allowed_actions": [a.value for a in self._r.allowed()],
            },
            type=contract.ACTION_REJECTED,
            non_retryable=True,
        )


def _invalid(message: str) -> ApplicationError:
    return ApplicationError(message, type=contract.INVALID_REQUEST, non_retryable=True)
