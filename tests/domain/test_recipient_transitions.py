"""The recipient's state transitions (domain.recipient) without Temporal: a fake clock, a
definition, and what a person would see change."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.events import EventKind
from domain.failures import FailureCause, NotSentYet
from domain.models import SequenceDefinition, SequenceSettings, StepContent, StepDefinition
from domain.recipient import HELD_RECHECK, EventEffect, Recipient
from domain.statuses import HoldSource, RecipientStatus, ResumePolicy, StepState, StepType

S = RecipientStatus
DAY = timedelta(days=1)
T0 = datetime(2026, 12, 1, 9, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, by: timedelta) -> None:
        self.now += by


def definition(
    *types: StepType, delays: list[timedelta] | None = None, **settings: object
) -> SequenceDefinition:
    delays = delays or [timedelta(0)] + [4 * DAY] * (len(types) - 1)
    return SequenceDefinition(
        name="t",
        steps=[
            StepDefinition(type=t, delay=d, content=StepContent(subject="Hi", body="Hello"))
            for t, d in zip(types, delays, strict=True)
        ],
        settings=SequenceSettings(**settings),  # type: ignore[arg-type]
    )


def recipient(*types: StepType, **settings: object) -> tuple[Recipient, Clock]:
    clock = Clock()
    defn = definition(*(types or (StepType.EMAIL, StepType.EMAIL)), **settings)
    state = Recipient.new_state(defn, None, clock(), "ada")
    return Recipient(state, defn, clock=clock), clock


def at_second_step(r: Recipient, clock: Clock) -> None:
    """Step 0 sent now; step 1 is due in four days."""
    r.step_sent(0, "<m0>", already_sent=False)
    assert r.state.due_at == clock() + 4 * DAY


def test_a_pause_freezes_the_rest_of_the_delay_and_a_resume_restarts_it() -> None:
    r, clock = recipient()
    at_second_step(r, clock)
    clock.advance(2 * DAY)
    r.enter_pause(at=clock(), actor="ada", reason="holiday", note="back soon")
    assert r.state.status is S.PAUSED and r.state.remaining == 2 * DAY
    assert r.next_step_at() is None  # nothing scheduled while paused
    clock.advance(10 * DAY)
    r.resume("ada")
    assert r.state.status is S.IN_PROGRESS
    assert r.state.due_at == clock() + 2 * DAY  # never restarted from zero
    kinds = [e.kind for e in r.state.timeline]
    assert kinds[-2:] == ["paused", "resumed"]
    assert r.state.timeline[-2].details == {
        "source": "recipient",
        "reason": "holiday",
        "note": "back soon",
    }


def test_keep_schedule_resumes_to_the_planned_time_or_at_once_if_it_passed() -> None:
    r, clock = recipient(resume_policy=ResumePolicy.KEEP_SCHEDULE)
    at_second_step(r, clock)
    planned = r.state.planned_at
    clock.advance(DAY)
    r.enter_pause(at=clock(), actor="ada")
    clock.advance(DAY)
    r.resume("ada")
    assert r.state.due_at == planned
    clock.advance(DAY)
    r.enter_pause(at=clock(), actor="ada")
    clock.advance(5 * DAY)
    r.resume("ada")
    assert r.state.due_at == clock()


def test_a_sequence_pause_holds_only_running_recipients() -> None:
    running, clock = recipient()
    assert running.hold_for_sequence(clock())
    assert running.state.pause is not None and running.state.pause.source is HoldSource.SEQUENCE
    paused, clock = recipient()
    paused.enter_pause(at=clock(), actor="ada")
    assert not paused.hold_for_sequence(clock())
    assert paused.state.pause is not None and paused.state.pause.source is HoldSource.RECIPIENT
    erred, clock = recipient()
    erred.fail_step(0, FailureCause.MISSING_EMAIL.value, "no address")
    assert not erred.hold_for_sequence(clock()) and erred.state.status is S.ERROR


def test_a_responded_recipient_that_goes_on_is_held_like_in_progress() -> None:
    r, clock = recipient(stop_on_response=False)
    assert r.apply_event("e1", EventKind.REPLY, {}) is EventEffect.APPLIED
    assert r.state.status is S.RESPONDED and r.running()
    assert r.hold_for_sequence(clock())
    assert r.state.pause is not None and r.state.pause.resume_to is S.RESPONDED
    r.release_sequence_hold(clock())
    assert r.state.status is S.RESPONDED


def test_the_sequence_resume_releases_only_its_own_hold() -> None:
    mine, clock = recipient()
    mine.enter_pause(at=clock(), actor="ada")
    mine.release_sequence_hold(clock())
    assert mine.state.status is S.PAUSED  # a person's pause waits for a person
    held, clock = recipient()
    held.hold_for_sequence(clock())
    held.release_sequence_hold(clock())
    assert held.state.status is S.IN_PROGRESS


def test_an_older_sequence_change_is_ignored() -> None:
    r, _ = recipient()
    assert r.takes_sequence_change(2, paused=True)
    assert not r.takes_sequence_change(1, paused=False)
    assert r.state.sequence_epoch == 2 and r.state.sequence_paused


def test_an_interrupted_dispatch_is_attempted_again_at_once_on_resume() -> None:
    r, clock = recipient()
    at_second_step(r, clock)
    clock.advance(4 * DAY)  # step 1 is being handed over as the pause lands
    r.enter_pause(at=clock(), actor="ada")
    r.dispatch_interrupted()
    clock.advance(DAY)
    r.resume("ada")
    assert r.state.due_at == clock() and r.state.current_step == 1


def test_resuming_from_an_error_claims_afresh_unless_the_delivery_is_uncertain() -> None:
    r, clock = recipient()
    r.fail_step(0, FailureCause.PROVIDER_REJECTED.value, "550")
    r.enter_pause(at=clock(), actor="ada")
    r.resume("ada")
    assert r.state.status is S.IN_PROGRESS and r.state.dispatch_rounds == {0: 1}
    assert r.state.steps[0].state is StepState.PENDING
    u, clock = recipient()
    u.fail_step(0, FailureCause.DELIVERY_UNCERTAIN.value, "lost during DATA")
    u.enter_pause(at=clock(), actor="ada")
    u.resume("ada")
    assert u.state.dispatch_rounds == {}  # the same claim comes back uncertain: a person checks


def test_a_failure_shows_its_cause_and_fix() -> None:
    r, _ = recipient()
    r.fail_step(0, FailureCause.TEMPLATE_VARIABLE_MISSING.value, "'nickname' is undefined")
    assert r.state.status is S.ERROR and r.state.error is not None
    assert r.state.error.fix == FailureCause.TEMPLATE_VARIABLE_MISSING.fix
    assert r.state.steps[0].state is StepState.FAILED


def test_a_failure_under_a_pause_keeps_it_paused_and_resume_retries() -> None:
    r, clock = recipient()
    r.enter_pause(at=clock(), actor="ada")
    r.fail_step(0, FailureCause.PROVIDER_REJECTED.value, "550")
    assert r.state.status is S.PAUSED and r.state.pause and r.state.pause.resume_to is S.ERROR
    r.resume("ada")
    assert r.state.status is S.IN_PROGRESS and r.state.error is None


def test_skip_counts_the_next_delay_from_the_skip_and_the_last_skip_completes() -> None:
    r, clock = recipient()
    clock.advance(DAY)
    r.skip("ada", 0)
    assert r.state.current_step == 1 and r.state.due_at == clock() + 4 * DAY
    r.skip("ada", 1)
    assert r.state.status is S.COMPLETED and r.ended()


def test_a_step_sent_under_a_pause_keeps_the_next_delay_frozen_whole() -> None:
    r, clock = recipient()
    r.enter_pause(at=clock(), actor="ada")
    r.step_sent(0, "<m0>", already_sent=False)
    assert r.state.status is S.PAUSED and r.state.remaining == 4 * DAY
    clock.advance(3 * DAY)
    r.resume("ada")
    assert r.state.due_at == clock() + 4 * DAY


def test_refusals_that_are_not_failures() -> None:
    held, clock = recipient()
    held.not_sent_yet(0, NotSentYet.HELD, [])
    assert held.state.held_until == clock() + HELD_RECHECK and held.state.status is S.IN_PROGRESS
    capped, clock = recipient()
    tomorrow = (clock() + DAY).isoformat()
    capped.not_sent_yet(0, NotSentYet.SENDER_CAPPED, [tomorrow])
    assert capped.state.due_at == clock() + DAY
    changed, clock = recipient()
    changed.not_sent_yet(0, NotSentYet.SENDER_CHANGED, ["snd_new"])
    assert changed.definition.settings.sender_id == "snd_new"
    assert changed.state.pause is not None and changed.state.pause.reason == "sender_changed"
    suppressed, _ = recipient()
    suppressed.not_sent_yet(0, NotSentYet.SUPPRESSED, [])
    assert suppressed.state.status is S.UNSUBSCRIBED and suppressed.ended()


@pytest.mark.parametrize(
    ("kind", "stop_on_response", "status", "effect"),
    [
        (EventKind.REPLY, True, S.RESPONDED, EventEffect.ENDS),
        (EventKind.REPLY, False, S.RESPONDED, EventEffect.APPLIED),
        (EventKind.MEETING, True, S.MEETING_BOOKED, EventEffect.ENDS),
        (EventKind.HARD_BOUNCE, False, S.BOUNCED, EventEffect.ENDS),
        (EventKind.UNSUBSCRIBE, True, S.UNSUBSCRIBED, EventEffect.ENDS),
        (EventKind.SOFT_BOUNCE, True, S.IN_PROGRESS, EventEffect.APPLIED),
        (EventKind.OUT_OF_OFFICE, True, S.IN_PROGRESS, EventEffect.PAUSES),
    ],
)
def test_inbound_events(
    kind: EventKind, stop_on_response: bool, status: RecipientStatus, effect: EventEffect
) -> None:
    r, _ = recipient(stop_on_response=stop_on_response)
    assert r.apply_event("e1", kind, {}) is effect
    assert r.state.status is status
    assert (
        r.state.timeline[-1].kind == f"inbound_{kind.value}" or r.state.status is not S.IN_PROGRESS
    )
    assert r.apply_event("e1", kind, {}) is EventEffect.DUPLICATE


def test_an_ended_recipient_only_records_events_except_an_unsubscribe() -> None:
    r, _ = recipient()
    r.stop("ada")
    assert r.apply_event("e1", EventKind.REPLY, {}) is EventEffect.RECORDED
    assert r.state.status is S.STOPPED
    assert r.apply_event("e2", EventKind.UNSUBSCRIBE, {}) is EventEffect.ENDS
    assert r.state.status is S.UNSUBSCRIBED


def test_a_personal_edit_wins_over_a_later_sequence_edit() -> None:
    r, _ = recipient()
    r.edit_content("ada", 1, StepContent(subject="Mine"))
    r.take_sequence_content(2, 1, StepContent(subject="Theirs", body="x"), dispatching=False)
    assert r.content_for(1).subject == "Mine" and r.content_for(1).body == "Hello"
    r.take_sequence_content(3, 0, StepContent(subject="New", body="y"), dispatching=True)
    assert r.content_for(0).subject == "Hi"  # being handed over: the edit cannot reach it


@given(
    events=st.lists(
        st.tuples(st.sampled_from(["pause", "resume", "wait"]), st.integers(1, 48)), max_size=12
    )
)
def test_the_step_is_due_at_its_delay_plus_the_time_spent_paused(
    events: list[tuple[str, int]],
) -> None:
    """Freeze: whatever the pauses and resumes, the step fires after delay + paused time."""
    r, clock = recipient()
    at_second_step(r, clock)
    start, paused_for = clock(), timedelta(0)
    paused_since: datetime | None = None
    for kind, hours in events:
        due = r.state.due_at
        if paused_since is None and due is not None and clock() + timedelta(hours=hours) >= due:
            break  # the step would have fired: stop before it does
        clock.advance(timedelta(hours=hours))
        if kind == "pause" and paused_since is None:
            r.enter_pause(at=clock(), actor="ada")
            paused_since = clock()
        elif kind == "resume" and paused_since is not None:
            r.resume("ada")
            paused_for += clock() - paused_since
            paused_since = None
    if paused_since is not None:
        r.resume("ada")
        paused_for += clock() - paused_since
    assert r.state.due_at == start + 4 * DAY + paused_for
