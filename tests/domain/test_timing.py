"""Time rules of docs/time.md, directly and as properties over any pause/resume history."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.statuses import ResumePolicy
from domain.timing import (
    InvalidDelay,
    SendingWindow,
    due_after_resume,
    parse_delay,
    remaining_delay,
)

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # a Monday
DAY = timedelta(days=1)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("P4D", 4 * DAY),
        ("PT30M", timedelta(minutes=30)),
        ("PT5S", timedelta(seconds=5)),
        ("PT0S", timedelta(0)),
        ("P1DT12H", timedelta(days=1, hours=12)),
    ],
)
def test_parse_delay(text: str, value: timedelta) -> None:
    assert parse_delay(text) == value


@pytest.mark.parametrize("text", ["-P1D", "P1M", "P1Y", "2 days", "", "P400D"])
def test_parse_delay_rejects_with_what_is_allowed(text: str) -> None:
    with pytest.raises(InvalidDelay):
        parse_delay(text)


def test_spec_freeze_example_4_day_delay_paused_on_day_2() -> None:
    due = T0 + 4 * DAY
    remaining = remaining_delay(due, paused_at=T0 + 2 * DAY)
    for resumed_after in (timedelta(hours=1), 10 * DAY, 100 * DAY):
        resumed = T0 + 2 * DAY + resumed_after
        fires = due_after_resume(
            ResumePolicy.FREEZE, resumed_at=resumed, remaining=remaining, planned_at=due
        )
        assert fires == resumed + 2 * DAY


def test_spec_keep_schedule_examples() -> None:
    planned = T0 + 5 * DAY
    early = due_after_resume(
        ResumePolicy.KEEP_SCHEDULE, resumed_at=T0 + 2 * DAY, remaining=3 * DAY, planned_at=planned
    )
    assert early == planned
    late = due_after_resume(
        ResumePolicy.KEEP_SCHEDULE, resumed_at=T0 + 7 * DAY, remaining=3 * DAY, planned_at=planned
    )
    assert late == T0 + 7 * DAY  # as soon as possible; the window snaps it after


# Any history of pauses within one delay, under freeze, fires at delay + total paused time.
pauses = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=10_000),  # running seconds before the pause
        st.integers(min_value=0, max_value=10_000_000),  # seconds paused
    ),
    max_size=8,
)


@given(delay_s=st.integers(min_value=0, max_value=30 * 86_400), history=pauses)
def test_freeze_fires_after_delay_plus_total_paused_time(
    delay_s: int, history: list[tuple[int, int]]
) -> None:
    delay = timedelta(seconds=delay_s)
    now, due, paused_total = T0, T0 + delay, timedelta(0)
    for run_s, paused_s in history:
        pause_at = now + timedelta(seconds=run_s)
        if pause_at >= due:
            break  # the step fired before this pause
        remaining = remaining_delay(due, pause_at)
        now = pause_at + timedelta(seconds=paused_s)
        paused_total += timedelta(seconds=paused_s)
        due = due_after_resume(
            ResumePolicy.FREEZE, resumed_at=now, remaining=remaining, planned_at=T0 + delay
        )
    assert due == T0 + delay + paused_total


@given(
    at=st.datetimes(
        min_value=datetime(2026, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC)
    ),
    zone=st.sampled_from(["Europe/Paris", "America/New_York", "Asia/Kolkata", "UTC"]),
    days=st.sets(st.integers(min_value=0, max_value=6), min_size=1),
)
def test_window_opening_is_inside_the_window_and_never_early(
    at: datetime, zone: str, days: set[int]
) -> None:
    window = SendingWindow(zone, frozenset(days), time(9), time(17))
    opening = window.next_opening(at)
    assert opening >= at
    local = opening.astimezone(window_zone(zone))
    assert local.weekday() in days
    assert time(9) <= local.time() < time(17)
    assert opening - at <= timedelta(days=7)


def window_zone(name: str):  # type: ignore[no-untyped-def]
    from zoneinfo import ZoneInfo

    return ZoneInfo(name)


def test_window_snaps_a_saturday_evening_to_monday_morning_paris() -> None:
    window = SendingWindow.of(
        "Europe/Paris", ["mon", "tue", "wed", "thu", "fri"], time(9), time(17)
    )
    saturday_evening = datetime(2026, 11, 28, 19, 0, tzinfo=UTC)
    assert window.next_opening(saturday_evening) == datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
    inside = datetime(2026, 11, 30, 10, 30, tzinfo=UTC)
    assert window.next_opening(inside) == inside
