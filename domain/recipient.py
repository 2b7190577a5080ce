"""A recipient's state transitions as pure code: pause, hold for the sequence, resume, send,
fail, skip, advance. No Temporal, no I/O: unit-tested with a fake clock (tests/domain).

The recipient workflow (workflows/recipient.py) owns waiting, the dispatch and the store; it
calls these for every change of state, so the rules of docs/time.md and
docs/statuses-and-actions.md are written once, here. Every change bumps `state.version` (the
store keeps the newest projection) and calls `on_change` (the workflow wakes its loop).

Holds compose (docs/holds.md): a recipient advances only while no hold applies — its own
pause, its sequence's, its sender's vacation. The first hold freezes the clock and is `pause`;
holds that come on top wait in `more_holds`; each is lifted only by its own resume, and the
clock thaws when the last one goes, so it counts the union of the held time once. Recipients
started before composition (`composed=False`, workflow.patched) keep the one-hold rules.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from domain import actions, content, events, timing, vacations
from domain.actions import RecipientSituation
from domain.failures import FailureCause, NotSentYet, fix_for
from domain.models import (
    SYSTEM,
    ErrorInfo,
    PauseInfo,
    RecipientState,
    SequenceDefinition,
    StepContent,
    StepRecord,
    TimelineEntry,
    Vacation,
    WindowIn,
)
from domain.statuses import (
    AUTOMATIC_STEPS,
    RESPONSE_STATUSES,
    Action,
    HoldSource,
    StepState,
    ends_sequence,
)
from domain.statuses import RecipientStatus as S

# A dispatch the barrier (or a capped sender) refused is looked at again no sooner than this.
HELD_RECHECK = timedelta(minutes=1)


# Timeline entries after which the current delay counts from then.
_CLOCK_SET = frozenset(
    {
        "enrolled",
        "started",
        "resumed",
        "hold_lifted",
        "step_sent",
        "step_skipped",
        "task_completed",
        "manual_email_scheduled",
        "retried",
    }
)


@dataclass(frozen=True)
class VacationChange:
    hold: bool  # True: held from `at`; False: the sender's hold lifts as of `at`
    at: datetime
    span: Vacation | None = None


class EventEffect(StrEnum):
    """What an inbound event asks of the workflow once applied."""

    DUPLICATE = "duplicate"  # seen before: nothing changed
    RECORDED = "recorded"  # on the timeline only (the recipient has ended)
    ENDS = "ends"  # the recipient ended: halt any dispatch
    PAUSES = "pauses"  # an out-of-office: pause the recipient
    APPLIED = "applied"


class Recipient:
    def __init__(
        self,
        state: RecipientState,
        definition: SequenceDefinition,
        *,
        clock: Callable[[], datetime],
        on_change: Callable[[], None] = lambda: None,
        start_at: datetime | None = None,
        timezone: str | None = None,
        composed: bool = False,
    ) -> None:
        self.state = state
        self.definition = definition
        self.start_at = start_at
        self.timezone = timezone  # the recipient's own, if known
        self.composed = composed  # holds compose (sender vacations, more_holds)
        self._clock = clock
        self._on_change = on_change

    @staticmethod
    def new_state(
        definition: SequenceDefinition,
        start_at: datetime | None,
        now: datetime,
        enrolled_by: str,
        timezone: str | None = None,
    ) -> RecipientState:
        start = start_at if start_at and start_at > now else now
        first = definition.steps[0]
        window = window_of(definition, timezone)
        due = timing.due_after(start, first.delay, window, business_days=first.business_days)
        return RecipientState(
            definition_version=definition.version,
            status=S.NOT_STARTED if start > now else S.IN_PROGRESS,
            planned_at=due,
            due_at=due,
            steps=[StepRecord(index=i, type=step.type) for i, step in enumerate(definition.steps)],
            timeline=[
                TimelineEntry(
                    at=now,
                    kind="enrolled",
                    actor=enrolled_by,
                    details={"start_at": start.isoformat()},
                )
            ],
        )

    # ---- reading -----------------------------------------------------------------------------

    def now(self) -> datetime:
        return self._clock()

    def situation(self) -> RecipientSituation:
        st = self.state
        return RecipientSituation.of(
            st.status,
            st.current_step,
            [step.type for step in self.definition.steps],
            stop_on_response=self.definition.settings.stop_on_response,
            sequence_paused=st.sequence_paused,
            held_by=[hold.source for hold in self.holds()] if self.composed else None,
        )

    def holds(self) -> list[PauseInfo]:
        """Every hold that applies now, the first (the one that froze the clock) first."""
        st = self.state
        if st.status is not S.PAUSED or st.pause is None:
            return []
        return [st.pause, *st.more_holds]

    def hold_of(self, source: HoldSource) -> PauseInfo | None:
        return next((hold for hold in self.holds() if hold.source == source), None)

    def allowed(self) -> list[Action]:
        return actions.allowed_actions(self.situation())

    def ended(self) -> bool:
        return self.situation().ended

    def running(self) -> bool:
        return self.situation().running

    def steps_left(self) -> bool:
        return self.state.current_step < len(self.definition.steps)

    def content_for(self, index: int) -> StepContent:
        return self.state.content_overrides.get(index, self.definition.steps[index].content)

    def step_editable(self, index: int, *, dispatching: bool) -> bool:
        st = self.state
        return content.step_editable(
            index, st.current_step, st.steps[index].state, dispatching=dispatching
        )

    def current_step_is_automatic(self) -> bool:
        st = self.state
        return self.steps_left() and self.definition.steps[st.current_step].type in AUTOMATIC_STEPS

    def window(self) -> timing.SendingWindow | None:
        return window_of(self.definition, self.timezone)

    def fire_at(self, due_at: datetime) -> datetime:
        """When the current step runs. The sending window is for automatic sends: a step for
        a person becomes Pending Action when due, and their "send now / at" is their call."""
        if not self.current_step_is_automatic() or self.state.manual_send_at is not None:
            return due_at
        return timing.fire_time(due_at, self.window())

    def next_step_at(self) -> datetime | None:
        st = self.state
        if st.status is S.NOT_STARTED and self.start_at:
            return self.fire_at(st.due_at or self.start_at)
        # Pending Action waits for a person, not for a clock.
        if st.status is not S.PENDING_ACTION and self.running() and st.due_at is not None:
            return self.fire_at(st.due_at)
        return None

    # ---- bookkeeping -------------------------------------------------------------------------

    def bump(self) -> None:
        self.state.version += 1
        self._on_change()

    def set_status(self, status: S) -> None:
        if self.state.status is not status:
            self.state.status = status
            self.bump()

    def record(self, kind: str, actor: str = SYSTEM, **details: object) -> None:
        self.state.timeline.append(
            TimelineEntry(
                at=self.now(),
                kind=kind,
                actor=actor,
                details={k: v for k, v in details.items() if v is not None},
            )
        )
        self.bump()

    def clear_schedule(self) -> None:
        st = self.state
        st.due_at = st.planned_at = st.remaining = st.manual_send_at = None

    def _next_dispatch_round(self) -> None:
        """A fresh ledger claim for the current step (a person asked to try it again)."""
        st = self.state
        st.dispatch_rounds[st.current_step] = st.dispatch_rounds.get(st.current_step, 0) + 1

    # ---- starting ----------------------------------------------------------------------------

    def start(self) -> None:
        self.set_status(S.IN_PROGRESS)
        self.record("started")

    # ---- pause and resume --------------------------------------------------------------------

    def enter_pause(
        self,
        *,
        at: datetime,
        actor: str = SYSTEM,
        reason: str | None = None,
        note: str | None = None,
        until: datetime | None = None,
    ) -> None:
        """Paused on its own (a person, an out-of-office, a sender change), as of `at`."""
        self._add_hold(
            PauseInfo(
                source=HoldSource.RECIPIENT,
                reason=reason,
                note=note,
                until=until,
                paused_at=at,
                actor=actor,
                resume_to=self.state.status,
            )
        )
        self.record(
            "paused",
            actor,
            source=HoldSource.RECIPIENT.value,
            reason=reason,
            note=note,
            until=until.isoformat() if until else None,
        )

    def hold_for_sequence(self, at: datetime) -> bool:
        """Held by its sequence's pause as of `at`, if it is running; paused, error and ended
        recipients keep their status (a paused one is held by the sequence too, composed).
        True if it was running and is held now."""
        return self._hold_from(HoldSource.SEQUENCE, at)

    def hold_for_sender(self, at: datetime, vacation: Vacation) -> bool:
        """Held by its sender's vacation as of `at`: as a sequence pause holds it."""
        return self._hold_from(
            HoldSource.SENDER, at, reason=vacation.reason or "sender_away", note=vacation.note
        )

    def _hold_from(
        self, source: HoldSource, at: datetime, reason: str | None = None, note: str | None = None
    ) -> bool:
        running = self.running()
        if not running and not (self.composed and self.holds() and not self.hold_of(source)):
            return False
        self._add_hold(
            PauseInfo(
                source=source, reason=reason, note=note, paused_at=at, resume_to=self.state.status
            )
        )
        self.record("paused", SYSTEM, source=source.value, reason=reason, at=at.isoformat())
        return running

    def _add_hold(self, hold: PauseInfo) -> None:
        """The first hold freezes the clock; one on top of it only joins the list."""
        st = self.state
        if st.pause is None or st.status is not S.PAUSED:
            self._freeze(hold)
        else:
            st.more_holds.append(hold)
            self.bump()

    def _lift(
        self, source: HoldSource, actor: str, reason: str | None, at: datetime | None = None
    ) -> None:
        """One hold lifted as of `at` (now by default); the clock thaws with the last."""
        st = self.state
        hold = self.hold_of(source)
        assert st.pause is not None and hold is not None
        # Never as of before the hold began, nor before a hold lifted earlier: the union of
        # the held time counts once, whatever order the lifts arrive in.
        at = max(at or self.now(), hold.paused_at, self._last_lift())
        if not st.more_holds:
            self.resume(actor, reason, resumed_at=at)
            return
        if hold is st.pause:
            first = st.more_holds.pop(0)
            st.pause = first.model_copy(update={"resume_to": st.pause.resume_to})
        else:
            st.more_holds.remove(hold)
        self.record("hold_lifted", actor, source=source.value, reason=reason, as_of=at.isoformat())

    def _last_lift(self) -> datetime:
        """The latest moment a hold of this pause was lifted as of (while others held on)."""
        for entry in reversed(self.state.timeline):
            if entry.kind == "hold_lifted":
                return datetime.fromisoformat(str(entry.details["as_of"]))
            if entry.kind == "resumed":
                break
        return datetime.min.replace(tzinfo=self.now().tzinfo)

    def _freeze(self, pause: PauseInfo) -> None:
        """The delay clock stops: what is left of it waits for the resume."""
        st = self.state
        st.remaining = timing.remaining_delay(st.due_at, pause.paused_at) if st.due_at else None
        st.pause = pause
        self.set_status(S.PAUSED)

    def dispatch_interrupted(self) -> None:
        """The pause cancelled a dispatch before the hand-over: the step is attempted again,
        at once, on resume."""
        st = self.state
        if st.pause:
            st.pause.resume_to = S.IN_PROGRESS
            st.remaining = timedelta(0)

    def held_by_sequence(self) -> bool:
        st = self.state
        return (
            st.status is S.PAUSED
            and st.pause is not None
            and st.pause.source == HoldSource.SEQUENCE
        )

    def resume(
        self, actor: str, reason: str | None = None, resumed_at: datetime | None = None
    ) -> None:
        """Back to where it was paused from: In Progress continues its clock (per the resume
        policy), Pending Action waits for the person again, Error attempts the step again."""
        st = self.state
        now = resumed_at or self.now()
        pause = st.pause
        assert pause is not None
        target = pause.resume_to
        if target is S.ERROR:
            # Resuming from an error attempts the errored step again (a fresh ledger claim) —
            # except after an uncertain delivery: only a person who checked the mailbox may
            # send it again (retry), so the same claim comes back uncertain.
            uncertain = st.error is not None and st.error.cause == FailureCause.DELIVERY_UNCERTAIN
            target, st.error = S.IN_PROGRESS, None
            if not uncertain:
                self._next_dispatch_round()
            st.due_at = now
            st.steps[st.current_step].state = StepState.PENDING
        elif st.remaining is not None and st.planned_at is not None:
            st.due_at = timing.due_after_resume(
                self.definition.settings.resume_policy,
                resumed_at=now,
                remaining=st.remaining,
                planned_at=st.planned_at,
            )
        st.pause, st.remaining, st.held_until, st.more_holds = None, None, None, []
        self.set_status(target)
        self.record("resumed", actor, **({"reason": reason} if reason else {}))

    def resume_own(self, actor: str, reason: str | None = None) -> None:
        """A person's resume (or its `until`): lifts the recipient's own hold only."""
        if self.composed:
            self._lift(HoldSource.RECIPIENT, actor, reason)
        else:
            self.resume(actor, reason)

    def own_until(self) -> datetime | None:
        """When the recipient's own pause lifts by itself."""
        if not self.composed:
            return self.state.pause.until if self.state.pause else None
        own = self.hold_of(HoldSource.RECIPIENT)
        return own.until if own else None

    def pause_until_reached(self, now: datetime) -> bool:
        until = self.own_until()
        return until is not None and now >= until

    # ---- a sender's vacations ----------------------------------------------------------------

    def take_vacations(self, spans: list[Vacation], version: int | None) -> None:
        """The sender's vacations, as told by its fan-out (`version`) or by the ledger's barrier
        (None: the newest the store has, which a later fan-out may replace)."""
        st = self.state
        if version is not None:
            if version <= st.vacations_version:
                return
            st.vacations_version = version
        st.sender_vacations = spans
        self.bump()

    def vacation_change(self, now: datetime) -> VacationChange | None:
        """What the sender's vacations ask of us now, if anything."""
        spans = self.state.sender_vacations
        held = self.hold_of(HoldSource.SENDER)
        if held is not None:
            lifted = vacations.released_at(spans, held.paused_at, now)
            return VacationChange(hold=False, at=lifted) if lifted else None
        span = vacations.covering(spans, now)
        if span is not None and (self.running() or self.holds()):
            return VacationChange(hold=True, at=max(span.start, self._last_progress()), span=span)
        return None

    def follow_vacations(self, now: datetime) -> bool:
        """Hold or release for the sender's vacations. True if it was running and is held now
        (a dispatch under way must be halted)."""
        change = self.vacation_change(now)
        if change is None:
            return False
        if change.hold:
            assert change.span is not None
            return self.hold_for_sender(change.at, change.span)
        self._lift(HoldSource.SENDER, SYSTEM, "sender_back", change.at)
        return False

    def next_vacation_moment(self, now: datetime) -> datetime | None:
        """When the vacations next change something for us: the end of the one holding us, or
        the start of the next one."""
        spans = self.state.sender_vacations
        held = self.hold_of(HoldSource.SENDER)
        if held is not None:
            span = vacations.covering(spans, held.paused_at)
            return span.end if span else now
        if self.running() or self.holds():
            return vacations.next_start(spans, now)
        return None

    def _last_progress(self) -> datetime:
        """The last moment its clock was set (a hold learned late applies as of its start,
        but never before the step's delay began counting)."""
        for entry in reversed(self.state.timeline):
            if entry.kind in _CLOCK_SET:
                return entry.at
        return self.state.timeline[0].at

    # ---- a sequence's changes ----------------------------------------------------------------

    def takes_sequence_change(self, epoch: int, paused: bool) -> bool:
        """The newest acknowledged pause/resume wins, whatever order they arrive in."""
        st = self.state
        if epoch <= st.sequence_epoch:
            return False
        st.sequence_epoch, st.sequence_paused = epoch, paused
        return True

    def as_of(self, acknowledged: datetime) -> datetime:
        """A sequence change applies as of its acknowledged moment, however late it reached
        us, but never before we were enrolled."""
        return max(acknowledged, self.state.timeline[0].at)

    def release_sequence_hold(self, at: datetime) -> None:
        st = self.state
        if self.composed:
            if self.hold_of(HoldSource.SEQUENCE) is not None:
                self._lift(HoldSource.SEQUENCE, SYSTEM, "sequence_resumed", at)
            return
        if self.held_by_sequence():
            assert st.pause is not None
            self.resume(SYSTEM, reason="sequence_resumed", resumed_at=max(at, st.pause.paused_at))

    def take_sequence_content(
        self, version: int, step: int, new: StepContent, *, dispatching: bool
    ) -> None:
        """A sequence content edit reaches a step not yet reached, unless it has a personal edit."""
        st = self.state
        if version <= st.definition_version:
            return
        st.definition_version = version
        if step in st.content_overrides or not self.step_editable(step, dispatching=dispatching):
            return
        steps = self.definition.steps
        steps[step] = steps[step].model_copy(update={"content": new})
        self.record("sequence_content_changed", SYSTEM, step=step, version=version)

    def adopt_sender(self, sender_id: str | None) -> None:
        settings = self.definition.settings
        self.definition.settings = settings.model_copy(update={"sender_id": sender_id})
        # The old sender's vacations are not the new one's (its barrier tells us those).
        self.state.sender_vacations, self.state.vacations_version = [], 0
        self.record("sender_changed", SYSTEM, sender_id=sender_id)

    def sender_change_lands_on_sequence_hold(self) -> None:
        """A sequence pause acknowledged after a sender change reached us first: we were
        running when the sender changed, so a person has to resume us, not the sequence."""
        st = self.state
        assert st.pause is not None
        if self.composed:
            # The sequence's hold stays; the person's comes on top of it.
            if self.hold_of(HoldSource.RECIPIENT) is None:
                self._add_hold(
                    PauseInfo(
                        source=HoldSource.RECIPIENT,
                        reason="sender_changed",
                        paused_at=self.now(),
                        resume_to=st.pause.resume_to,
                    )
                )
                self.record(
                    "paused", SYSTEM, source=HoldSource.RECIPIENT.value, reason="sender_changed"
                )
            return
        st.pause = st.pause.model_copy(
            update={"source": HoldSource.RECIPIENT, "reason": "sender_changed", "actor": SYSTEM}
        )
        self.record("paused", SYSTEM, source=HoldSource.RECIPIENT.value, reason="sender_changed")

    # ---- a step's outcome --------------------------------------------------------------------

    def step_sent(self, index: int, message_id: str, already_sent: bool) -> None:
        st = self.state
        st.held_until = None
        record = st.steps[index]
        record.state = StepState.SENT
        record.at = self.now()
        record.message_id = message_id
        self.record(
            "step_sent",
            step=index,
            type=record.type.value,
            message_id=message_id,
            already_sent=already_sent or None,
        )
        st.manual_send_at = None
        self.move_to_next_step(self.now())

    def not_sent_yet(self, index: int, refusal: NotSentYet, details: Sequence[Any]) -> None:
        """The ledger refused the hand-over for a reason that is not a failure of the step;
        `details` are the refusal's (the new sender; the cap's end)."""
        st = self.state
        now = self.now()
        if refusal is NotSentYet.HELD:
            # The API recorded a pause that has not reached us yet; it is on its way. Look
            # again shortly in case it never comes (the API died between barrier and update).
            # due_at stays: a sequence pause applies as of its acknowledged moment.
            st.held_until = now + HELD_RECHECK
        elif refusal is NotSentYet.SUPPRESSED:
            self.set_status(S.UNSUBSCRIBED)
            self.clear_schedule()
            self.record("suppressed", step=index)
        elif refusal is NotSentYet.SENDER_CHANGED:
            # The sequence's sender changed and its fan-out has not reached us (we may have
            # started after it passed): take the new sender, and pause for a person as the
            # change would have.
            self.adopt_sender(details[0] if details else None)
            self.enter_pause(at=now, reason="sender_changed")
        elif refusal is NotSentYet.SENDER_AWAY:
            if self.composed:
                # Its vacation's fan-out has not reached us (or we started just as it began):
                # take the vacations from the barrier; the workflow holds us as of its start.
                self.take_vacations([Vacation.model_validate(v) for v in details[0]], None)
            else:
                st.held_until = now + HELD_RECHECK  # as a pause on its way: look again
        elif refusal is NotSentYet.SENDER_CAPPED:
            # Never sooner than the recheck interval: a clock skew must not become a busy loop.
            st.due_at = max(datetime.fromisoformat(details[0]), now + HELD_RECHECK)
            self.record("deferred", step=index, reason="sender daily cap", until=details[0])
        self.bump()

    def fail_step(self, index: int, cause: str, detail: str) -> None:
        st = self.state
        if self.ended():
            # Stopped, unsubscribed, bounced or answered meanwhile: that status stands.
            self.record("step_failed", step=index, cause=cause, detail=detail)
            return
        st.steps[index].state = StepState.FAILED
        st.steps[index].at = self.now()
        st.error = ErrorInfo(step=index, cause=cause, fix=fix_for(cause), detail=detail)
        if st.status is S.PAUSED:
            # Paused while the failing attempt ran: resuming tries the step again.
            if st.pause:
                st.pause.resume_to = S.ERROR
        else:
            self.set_status(S.ERROR)
        self.record("step_failed", step=index, cause=cause, detail=detail)

    def move_to_next_step(self, counted_from: datetime) -> None:
        """The next step's delay counts from `counted_from` (a send, a skip, a completion)."""
        st = self.state
        ended_before = self.ended()
        st.current_step += 1
        st.error = None
        st.manual_send_at = None
        if ended_before:
            # Stopped while the step went out: record it, schedule nothing.
            self.clear_schedule()
        elif not self.steps_left():
            self.finish(counted_from)
        else:
            step = self.definition.steps[st.current_step]
            st.planned_at = st.due_at = timing.due_after(
                counted_from, step.delay, self.window(), business_days=step.business_days
            )
            if st.status is S.PAUSED:
                # The step finished under a pause: the new delay stays frozen whole until resume.
                st.remaining = st.due_at - counted_from
                if st.pause and st.pause.resume_to in (S.PENDING_ACTION, S.ERROR):
                    st.pause.resume_to = S.IN_PROGRESS
        self.bump()

    def finish(self, at: datetime) -> None:
        st = self.state
        st.due_at = st.planned_at = None
        st.remaining, st.pause, st.more_holds = None, None, []
        if st.status not in RESPONSE_STATUSES:
            self.set_status(S.COMPLETED)
        self.record("completed")

    def wait_for_person(self) -> None:
        st = self.state
        self.set_status(S.PENDING_ACTION)
        self.record(
            "pending_action",
            step=st.current_step,
            type=self.definition.steps[st.current_step].type.value,
        )

    # ---- a person's actions ------------------------------------------------------------------

    def skip(self, actor: str, index: int) -> None:
        """Skip `index`, the current step; the next step's delay counts from now."""
        st = self.state
        now = self.now()
        st.steps[index].state = StepState.SKIPPED
        st.steps[index].at = now
        self.record("step_skipped", actor, step=index)
        if st.status in (S.ERROR, S.PENDING_ACTION):
            self.set_status(S.IN_PROGRESS)
        self.move_to_next_step(now)

    def stop(self, actor: str) -> None:
        self.set_status(S.STOPPED)
        self.clear_schedule()
        self.record("stopped", actor)

    def exclude(self, actor: str) -> None:
        self.set_status(S.EXCLUDED)
        self.clear_schedule()
        self.record("excluded", actor)

    def retry_now(self, actor: str) -> None:
        st = self.state
        self._next_dispatch_round()
        st.error = None
        st.due_at = self.now()
        st.steps[st.current_step].state = StepState.PENDING
        self.set_status(S.IN_PROGRESS)
        self.record("retried", actor, step=st.current_step)

    def complete_task(self, actor: str) -> None:
        st = self.state
        index = st.current_step
        now = self.now()
        st.steps[index].state = StepState.COMPLETED
        st.steps[index].at = now
        self.record("task_completed", actor, step=index)
        self.set_status(S.IN_PROGRESS)
        self.move_to_next_step(now)

    def schedule_manual_email(self, actor: str, at: datetime | None) -> datetime:
        """Send the manual email now or at a time (never in the past); when it goes."""
        st = self.state
        now = self.now()
        when = max(at or now, now)
        st.manual_send_at = st.due_at = st.planned_at = when
        self.set_status(S.IN_PROGRESS)
        self.record("manual_email_scheduled", actor, step=st.current_step, at=when.isoformat())
        return when

    def edit_content(self, actor: str, step: int, edit: StepContent) -> None:
        """A personal edit of one step; fixing the errored step's content retries it."""
        st = self.state
        st.content_overrides[step] = self.content_for(step).with_edit(edit)
        self.record("content_edited", actor, step=step)
        if st.status is S.ERROR and step == st.current_step:
            self.retry_now(actor)
        self.bump()

    # ---- inbound events ----------------------------------------------------------------------

    def apply_event(
        self, event_id: str, kind: events.EventKind, details: dict[str, object]
    ) -> EventEffect:
        st = self.state
        if event_id in st.seen_events:
            return EventEffect.DUPLICATE
        st.seen_events.append(event_id)
        self.record(f"inbound_{kind.value}", SYSTEM, event_id=event_id, **details)
        if self.ended() and not events.changes_an_ended_recipient(kind):
            return EventEffect.RECORDED  # kept for reporting; nothing left to change
        outcome = events.outcome(kind)
        if outcome is not None:
            if ends_sequence(outcome, stop_on_response=self.definition.settings.stop_on_response):
                self.set_status(outcome)
                self.clear_schedule()
                return EventEffect.ENDS
            if st.status is S.IN_PROGRESS:
                # Stop-on-response off: they keep going, labelled by what they did.
                self.set_status(outcome)
            elif st.status is S.PAUSED and st.pause and st.pause.resume_to is S.IN_PROGRESS:
                st.pause.resume_to = outcome
            # Pending Action / Error keep their status: a person still has to act on them.
        elif kind is events.EventKind.OUT_OF_OFFICE and Action.PAUSE in self.allowed():
            return EventEffect.PAUSES
        return EventEffect.APPLIED


def window_of(definition: SequenceDefinition, timezone: str | None) -> timing.SendingWindow | None:
    """The sequence's sending window, in the recipient's time zone where the sequence says so
    and the recipient has one."""
    schedule = definition.settings.schedule
    if schedule is None:
        return None
    window = timing.SendingWindow.of(
        schedule.timezone,
        schedule.days,
        schedule.start,
        schedule.end,
        schedule.closed_days(),
    )
    if definition.settings.window_in is WindowIn.RECIPIENT and timezone:
        return window.in_zone(timezone)
    return window
