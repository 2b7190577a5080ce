"""Time rules (docs/time.md): delays (calendar or business days), the freezing clock, both
resume policies, sending windows (with holiday calendars and closed dates, in the sequence's
or the recipient's time zone).

Pure functions over aware datetimes (UTC in, UTC out). The recipient workflow keeps two facts
per step — `planned_at` (when it was first due) and, while paused, `remaining` — and asks these
functions when to fire.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, available_timezones

import isodate

from domain.statuses import ResumePolicy

_ZONES = frozenset(available_timezones())

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_DELAY = timedelta(days=366)
# How far ahead an enrollment may start: as far as one delay may reach.
MAX_START_AHEAD = MAX_DELAY
_HAS_AMOUNT = re.compile(r"\d")
# The longest run of closed days a window may have (a year of them: refused at the API).
MAX_CLOSED_RUN = 400
# Names the tz database has that are not places a person lives in.
_NOT_A_PLACE = frozenset({"Factory", "localtime", "posixrules"})


class InvalidTimeZone(ValueError):
    pass


def check_time_zone(name: str) -> str:
    """An IANA place name such as Europe/Paris (or UTC)."""
    if name in _NOT_A_PLACE or name.startswith(("posix/", "right/")) or name not in _ZONES:
        raise InvalidTimeZone(f"{name!r} is not an IANA time zone like Europe/Paris")
    return name


class InvalidDelay(ValueError):
    pass


def parse_delay(text: str) -> timedelta:
    """An ISO-8601 duration such as `P4D`, `PT30M`, `PT5S`; days and smaller units only.

    Months and years have no fixed length, so a step delay may not use them.
    """
    if not isinstance(text, str) or not _HAS_AMOUNT.search(text):
        # ("PT" or "P" alone name no duration, though isodate reads "PT" as zero.)
        raise InvalidDelay(f"{text!r} is not an ISO-8601 duration such as P2D or PT30M")
    try:
        value = isodate.parse_duration(text)
    except (isodate.ISO8601Error, ValueError, TypeError, OverflowError) as exc:
        raise InvalidDelay(f"{text!r} is not an ISO-8601 duration such as P2D or PT30M") from exc
    if not isinstance(value, timedelta):
        raise InvalidDelay(f"{text!r} uses months or years; use days (P30D) instead")
    if value < timedelta(0):
        raise InvalidDelay(f"{text!r} is negative; a delay is zero or more")
    if value > MAX_DELAY:
        raise InvalidDelay(f"{text!r} is longer than {MAX_DELAY.days} days")
    return value


def format_delay(value: timedelta) -> str:
    return str(isodate.duration_isoformat(value))


@dataclass(frozen=True)
class SendingWindow:
    """Local weekdays and hours a step may go out in (`end` is exclusive), without its closed
    dates (its holiday calendars' days, resolved when the sequence was made, and its own)."""

    timezone: str
    days: frozenset[int]  # 0 = Monday
    start: time
    end: time
    closed: frozenset[date] = frozenset()

    @classmethod
    def of(
        cls,
        timezone: str,
        days: list[str],
        start: time,
        end: time,
        closed: list[date] | None = None,
    ) -> SendingWindow:
        return cls(
            timezone,
            frozenset(WEEKDAYS.index(d) for d in days),
            start,
            end,
            frozenset(closed or ()),
        )

    def in_zone(self, timezone: str) -> SendingWindow:
        """The same days and hours where someone else lives."""
        return replace(self, timezone=timezone)

    def open_on(self, day: date) -> bool:
        """A sending day: one of the window's weekdays, and not closed."""
        return day.weekday() in self.days and day not in self.closed

    def next_opening(self, at: datetime) -> datetime:
        """`at` itself if it is inside the window, else the next moment the window opens."""
        zone = ZoneInfo(self.timezone)
        local = at.astimezone(zone)
        for offset in range(MAX_CLOSED_RUN):
            day: date = local.date() + timedelta(days=offset)
            if not self.open_on(day):
                continue
            opens = datetime.combine(day, self.start, zone)
            closes = datetime.combine(day, self.end, zone)
            if local < opens:
                return opens.astimezone(UTC)
            if local < closes:
                return at.astimezone(UTC)
        raise ValueError("the sending window never opens")  # validated at the API


def due_after(
    counted_from: datetime, delay: timedelta, window: SendingWindow | None, *, business_days: bool
) -> datetime:
    """When a step is due: `delay` after `counted_from`. With `business_days`, the delay's
    whole days count only the window's open days (in its time zone; the time of day is kept
    on the wall clock) and the rest of it (hours) is added after: P3D from a Friday is the
    Wednesday."""
    if not business_days or window is None or delay.days == 0:
        return counted_from + delay
    zone = ZoneInfo(window.timezone)
    local = counted_from.astimezone(zone)
    day, counted = local.date(), 0
    for _ in range(MAX_CLOSED_RUN * (delay.days + 1)):
        if counted == delay.days:
            break
        day += timedelta(days=1)
        counted += window.open_on(day)
    landed = datetime.combine(day, local.time(), zone)
    return landed.astimezone(UTC) + (delay - timedelta(days=delay.days))


def remaining_delay(due_at: datetime, paused_at: datetime) -> timedelta:
    """What is left of the delay when the clock freezes (never negative)."""
    return max(due_at - paused_at, timedelta(0))


def due_after_resume(
    policy: ResumePolicy,
    *,
    resumed_at: datetime,
    remaining: timedelta,
    planned_at: datetime,
) -> datetime:
    """When the step is due again after a resume, before the sending window is applied.

    freeze: the clock restarts with what was left. keep_schedule: the original time stands; if
    it has passed, as soon as possible.
    """
    if policy is ResumePolicy.KEEP_SCHEDULE:
        return max(planned_at, resumed_at)
    return resumed_at + remaining


def fire_time(due_at: datetime, window: SendingWindow | None) -> datetime:
    """The first moment at or after `due_at` the window is open."""
    return due_at if window is None else window.next_opening(due_at)
