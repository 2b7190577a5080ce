"""Holiday calendars, closed dates, business-day delays and recipients' own time zones
(domain/timing.py, domain/recipient.window_of): DST-correct both ways."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from domain import calendars
from domain.calendars import holiday_dates
from domain.models import SendingSchedule, SequenceDefinition, SequenceSettings, WindowIn
from domain.recipient import window_of
from domain.timing import SendingWindow, due_after

WEEK = ["mon", "tue", "wed", "thu", "fri"]
PARIS = SendingWindow.of("Europe/Paris", WEEK, time(9), time(17), holiday_dates(["FR"], 2026))


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def test_a_step_due_on_a_holiday_waits_for_the_next_open_morning() -> None:
    # Friday 25 December 2026 is Christmas in France; the weekend follows.
    assert not PARIS.open_on(date(2026, 12, 25))
    assert PARIS.next_opening(utc(2026, 12, 25, 10)) == utc(2026, 12, 28, 8)  # Mon 09:00 CET


def test_closed_dates_close_like_holidays() -> None:
    window = SendingWindow.of("Europe/Paris", WEEK, time(9), time(17), [date(2026, 12, 24)])
    assert window.next_opening(utc(2026, 12, 24, 9)) == utc(2026, 12, 25, 8)  # no calendar named
    assert PARIS.next_opening(utc(2026, 12, 24, 9)) == utc(2026, 12, 24, 9)  # the 24th is open


def test_a_subdivision_has_its_own_holidays() -> None:
    california = SendingWindow.of(
        "America/Los_Angeles", WEEK, time(9), time(17), holiday_dates(["US-CA"], 2026)
    )
    new_york = SendingWindow.of(
        "America/New_York", WEEK, time(9), time(17), holiday_dates(["US-NY"], 2026)
    )
    cesar_chavez_day = date(2026, 3, 31)  # a California state holiday, a Tuesday
    assert not california.open_on(cesar_chavez_day)
    assert new_york.open_on(cesar_chavez_day)


def test_business_days_from_a_friday_land_on_wednesday() -> None:
    friday = utc(2026, 11, 27, 9)  # 10:00 in Paris
    landed = due_after(friday, timedelta(days=3), PARIS, business_days=True)
    assert landed == utc(2026, 12, 2, 9)  # Wednesday, same wall-clock time
    assert due_after(friday, timedelta(days=3), PARIS, business_days=False) == utc(2026, 11, 30, 9)


def test_business_days_skip_a_holiday_and_keep_the_hours() -> None:
    thursday = utc(2026, 12, 24, 9)
    one_day_four_hours = timedelta(days=1, hours=4)
    # Friday 25 is Christmas, then the weekend: Monday 28, 10:00 Paris, plus 4 hours.
    assert due_after(thursday, one_day_four_hours, PARIS, business_days=True) == utc(
        2026, 12, 28, 13
    )


@pytest.mark.parametrize(
    ("zone", "before", "after"),
    [
        # Europe/Paris: 29 March 2026 (CET -> CEST) and 25 October 2026 (CEST -> CET).
        ("Europe/Paris", utc(2026, 3, 27, 9), utc(2026, 3, 30, 8)),
        ("Europe/Paris", utc(2026, 10, 23, 8), utc(2026, 10, 26, 9)),
        # America/New_York: 8 March 2026 (EST -> EDT) and 1 November 2026 (EDT -> EST).
        ("America/New_York", utc(2026, 3, 6, 15), utc(2026, 3, 9, 14)),
        ("America/New_York", utc(2026, 10, 30, 14), utc(2026, 11, 2, 15)),
    ],
)
def test_a_business_day_over_a_dst_change_keeps_the_wall_clock(
    zone: str, before: datetime, after: datetime
) -> None:
    """10:00 on the Friday before the change is 10:00 on the Monday after it: one hour more
    or less in UTC."""
    window = SendingWindow.of(zone, WEEK, time(9), time(17))
    assert due_after(before, timedelta(days=1), window, business_days=True) == after


@pytest.mark.parametrize(
    ("zone", "saturday", "opens"),
    [
        ("Europe/Paris", utc(2026, 3, 28, 12), utc(2026, 3, 30, 7)),  # 09:00 CEST
        ("Europe/Paris", utc(2026, 10, 24, 12), utc(2026, 10, 26, 8)),  # 09:00 CET
        ("America/New_York", utc(2026, 3, 7, 12), utc(2026, 3, 9, 13)),  # 09:00 EDT
        ("America/New_York", utc(2026, 10, 31, 12), utc(2026, 11, 2, 14)),  # 09:00 EST
    ],
)
def test_the_window_opens_at_nine_local_after_either_dst_change(
    zone: str, saturday: datetime, opens: datetime
) -> None:
    window = SendingWindow.of(zone, WEEK, time(9), time(17))
    assert window.next_opening(saturday) == opens


def test_each_recipient_s_window_is_where_they_live() -> None:
    schedule = SendingSchedule(timezone="Europe/Paris", days=WEEK, start=time(9), end=time(17))
    definition = SequenceDefinition(
        name="s",
        steps=[],
        settings=SequenceSettings(schedule=schedule, window_in=WindowIn.RECIPIENT),
    )
    due = utc(2026, 12, 1, 20)  # Tuesday: 12:00 in Los Angeles, Wednesday 05:00 in Tokyo
    los_angeles = window_of(definition, "America/Los_Angeles")
    tokyo = window_of(definition, "Asia/Tokyo")
    nowhere = window_of(definition, None)
    assert los_angeles is not None and tokyo is not None and nowhere is not None
    assert los_angeles.next_opening(due) == due  # open now where she is
    assert tokyo.next_opening(due) == utc(2026, 12, 2, 0)  # Wednesday 09:00 JST
    assert nowhere.next_opening(due) == utc(2026, 12, 2, 8)  # the schedule's: 09:00 Paris
    in_sequence = definition.model_copy(
        update={"settings": SequenceSettings(schedule=schedule, window_in=WindowIn.SEQUENCE)}
    )
    assert window_of(in_sequence, "Asia/Tokyo") == nowhere


@pytest.mark.parametrize(
    ("name", "says"),
    [("XX", "not a holiday calendar"), ("US-ZZ", "has no subdivision"), ("fr", "not a holiday")],
)
def test_an_unknown_calendar_is_refused_with_what_is_allowed(name: str, says: str) -> None:
    with pytest.raises(calendars.UnknownCalendar, match=says):
        calendars.check_calendar(name)


def test_a_calendar_is_resolved_for_the_year_and_the_two_after() -> None:
    days = holiday_dates(["FR"], 2026)
    assert date(2026, 12, 25) in days and date(2028, 12, 25) in days
    assert date(2029, 12, 25) not in days and date(2025, 12, 25) not in days
