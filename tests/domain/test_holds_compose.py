"""Holds compose (domain.recipient with composed=True, domain.vacations): a recipient advances
only while no hold applies — its own pause, its sequence's, its sender's vacation — each lifted
only by its own resume, the clock frozen for the union of the held time, counted once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from domain import vacations
from domain.models import Vacation
from domain.recipient import Recipient
from domain.statuses import Action, HoldSource, RecipientStatus, StepType
from tests.domain.test_recipient_transitions import Clock, definition

S = RecipientStatus
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
T0 = datetime(2026, 12, 1, 9, tzinfo=UTC)
DELAY = 400 * DAY  # longer than any interleaving below: the step never comes due meanwhile


def composed(delay: timedelta = DELAY, sender: str | None = "snd_1") -> tuple[Recipient, Clock]:
    clock = Clock()
    defn = definition(StepType.EMAIL, StepType.EMAIL, delays=[timedelta(0), delay])
    defn.settings = defn.settings.model_copy(update={"sender_id": sender})
    r = Recipient(Recipient.new_state(defn, None, clock(), "ada"), defn, clock=clock, composed=True)
    r.step_sent(0, "<m0>", already_sent=False)  # step 1 due `delay` from now
    return r, clock


class Holds:
    """Puts each kind of hold on and off the way the product does."""

    def __init__(self, r: Recipient, clock: Clock) -> None:
        self.r, self.clock = r, clock
        self.version = 0
        self.spans: list[Vacation] = []

    def on(self, source: HoldSource) -> bool:
        r, now = self.r, self.clock()
        if source is HoldSource.RECIPIENT:
            if Action.PAUSE not in r.allowed():
                return False  # a paused recipient cannot be paused again (the table)
            r.enter_pause(at=now, actor="ada")
        elif source is HoldSource.SEQUENCE:
            r.takes_sequence_change(r.state.sequence_epoch + 1, True)
            r.hold_for_sequence(now)
        else:
            self._tell(vacations.plan(self.spans, Vacation(start=now), now))
        return True

    def off(self, source: HoldSource) -> bool:
        r, now = self.r, self.clock()
        if source is HoldSource.RECIPIENT:
            if Action.RESUME not in r.allowed():
                return False  # held by its sequence too: only stop/delete (the table)
            r.resume_own("ada")
        elif source is HoldSource.SEQUENCE:
            r.takes_sequence_change(r.state.sequence_epoch + 1, False)
            r.release_sequence_hold(now)
        else:
            self._tell(vacations.end_now(self.spans, now))
        return True

    def _tell(self, spans: list[Vacation]) -> None:
        self.spans, self.version = spans, self.version + 1
        self.r.take_vacations(spans, self.version)
        self.r.follow_vacations(self.clock())


def test_a_vacation_holds_a_running_recipient_and_its_end_thaws_the_clock() -> None:
    r, clock = composed(delay=4 * DAY)
    holds = Holds(r, clock)
    clock.advance(DAY)
    holds.on(HoldSource.SENDER)
    assert r.state.status is S.PAUSED and r.state.remaining == 3 * DAY
    assert [h.source for h in r.holds()] == [HoldSource.SENDER]
    assert Action.RESUME not in r.allowed()  # only the sender's resume lifts it
    clock.advance(2 * DAY)
    holds.off(HoldSource.SENDER)
    assert r.state.status is S.IN_PROGRESS and r.state.due_at == clock() + 3 * DAY


def test_resuming_one_level_while_another_holds_leaves_it_paused_with_the_other() -> None:
    r, clock = composed(delay=4 * DAY)
    holds = Holds(r, clock)
    holds.on(HoldSource.RECIPIENT)
    clock.advance(DAY)
    holds.on(HoldSource.SENDER)
    assert [h.source for h in r.holds()] == [HoldSource.RECIPIENT, HoldSource.SENDER]
    clock.advance(DAY)
    holds.off(HoldSource.RECIPIENT)
    assert r.state.status is S.PAUSED
    assert [h.source for h in r.holds()] == [HoldSource.SENDER]
    assert r.state.pause is not None and r.state.pause.source is HoldSource.SENDER
    clock.advance(DAY)
    holds.off(HoldSource.SENDER)
    # Held from day 0 to day 3: the four-day delay ends on day 7.
    assert r.state.due_at == T0 + 7 * DAY


def test_a_late_sequence_resume_after_the_vacation_ended_counts_the_union_once() -> None:
    """The sequence resumed on day 3 but its fan-out reaches us on day 5, after the vacation
    (days 1 to 4) was lifted: held from day 1 to day 4, never "as of day 3"."""
    r, clock = composed(delay=10 * DAY)
    holds = Holds(r, clock)
    clock.advance(DAY)
    holds.on(HoldSource.SENDER)
    clock.advance(DAY)
    holds.on(HoldSource.SEQUENCE)
    clock.advance(2 * DAY)
    holds.off(HoldSource.SENDER)  # day 4
    assert r.state.status is S.PAUSED
    clock.advance(DAY)
    r.takes_sequence_change(r.state.sequence_epoch + 1, False)
    r.release_sequence_hold(T0 + 3 * DAY)  # acknowledged on day 3, arriving on day 5
    assert r.state.status is S.IN_PROGRESS
    assert r.state.due_at == T0 + 10 * DAY + 3 * DAY


def test_a_vacation_planned_ahead_holds_from_its_start_and_lifts_at_its_end() -> None:
    r, clock = composed(delay=4 * DAY)
    spans = [Vacation(start=T0 + DAY, end=T0 + 2 * DAY, reason="Lisbon")]
    r.take_vacations(spans, 1)
    assert r.next_vacation_moment(clock()) == T0 + DAY
    clock.advance(DAY + HOUR)  # the workflow wakes a little late
    r.follow_vacations(clock())
    assert r.state.pause is not None and r.state.pause.paused_at == T0 + DAY
    assert r.state.pause.reason == "Lisbon" and r.state.remaining == 3 * DAY
    assert r.next_vacation_moment(clock()) == T0 + 2 * DAY
    clock.advance(DAY)
    r.follow_vacations(clock())
    assert r.state.status is S.IN_PROGRESS and r.state.due_at == T0 + 5 * DAY


def test_merged_vacations_keep_the_union_and_resume_ends_only_the_current_one() -> None:
    now = T0
    a = Vacation(start=now, end=now + 2 * DAY, reason="first")
    b = Vacation(start=now + DAY, end=now + 3 * DAY)
    later = Vacation(start=now + 10 * DAY, end=now + 11 * DAY)
    spans = vacations.plan(vacations.plan([a], b, now), later, now)
    assert [(s.start, s.end, s.reason) for s in spans] == [
        (now, now + 3 * DAY, "first"),
        (now + 10 * DAY, now + 11 * DAY, None),
    ]
    back = vacations.end_now(spans, now + HOUR)
    assert [(s.start, s.end) for s in back] == [
        (now, now + HOUR),
        (now + 10 * DAY, now + 11 * DAY),
    ]


SOURCES = st.sampled_from(list(HoldSource))
STEPS = st.lists(
    st.tuples(st.integers(min_value=0, max_value=48), SOURCES, st.booleans()), max_size=30
)


@given(STEPS, st.permutations(list(HoldSource)))
def test_the_step_is_due_at_its_delay_plus_the_time_under_at_least_one_hold(
    steps: list[tuple[int, HoldSource, bool]], release_order: list[HoldSource]
) -> None:
    r, clock = composed()
    holds = Holds(r, clock)
    on: set[HoldSource] = set()
    held_since: datetime | None = None
    held = timedelta(0)

    def apply(source: HoldSource, put_on: bool) -> None:
        nonlocal held_since, held
        if put_on == (source in on) or not (holds.on if put_on else holds.off)(source):
            return
        (on.add if put_on else on.discard)(source)
        if on and held_since is None:
            held_since = clock()
        if not on and held_since is not None:
            held, held_since = held + (clock() - held_since), None
        # Never advancing during a hold; every hold that applies is listed.
        assert (r.state.status is S.PAUSED) == bool(on)
        assert {h.source for h in r.holds()} == on

    for hours, source, put_on in steps:
        clock.advance(hours * HOUR)
        apply(source, put_on)
    for source in [HoldSource.SEQUENCE, *release_order]:  # the sequence first: the table
        clock.advance(HOUR)
        apply(source, False)
    assert not on and r.state.status is S.IN_PROGRESS
    assert r.state.due_at == T0 + DELAY + held


def test_a_recipient_that_starts_during_a_vacation_is_held_from_its_start_not_before() -> None:
    clock = Clock()
    defn = definition(StepType.EMAIL, delays=[2 * DAY])
    start = T0 + 3 * DAY
    state = Recipient.new_state(defn, start, clock(), "ada")
    r = Recipient(state, defn, clock=clock, start_at=start, composed=True)
    r.take_vacations([Vacation(start=T0 + DAY, end=T0 + 5 * DAY)], 1)
    assert r.vacation_change(clock()) is None  # not started: nothing to hold yet
    clock.advance(3 * DAY)
    r.start()
    r.follow_vacations(clock())
    assert r.state.pause is not None and r.state.pause.paused_at == start
    assert r.state.remaining == 2 * DAY  # the whole delay waits for the vacation's end
    clock.advance(2 * DAY)
    r.follow_vacations(clock())
    assert r.state.status is S.IN_PROGRESS and r.state.due_at == T0 + 7 * DAY
