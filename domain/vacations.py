"""A sender's vacations: planned spans during which no recipient sending from it advances.

Pure functions over `Vacation` spans (UTC, `end` None = until someone resumes the sender). The
store keeps a sender's spans (the ledger's barrier asks `covering`), the API plans and ends them
here, and each recipient workflow is told the whole list and follows it by its own clock
(domain.recipient): held from a span's start, released at its end.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from domain.models import Vacation

# How far ahead a vacation may be planned (as far as a delay may reach).
MAX_AHEAD = timedelta(days=366)


class InvalidVacation(ValueError):
    pass


def check(start: datetime, end: datetime | None, now: datetime) -> None:
    if start > now + MAX_AHEAD:
        raise InvalidVacation("from may be at most 366 days ahead")
    if end is not None and end <= start:
        raise InvalidVacation("until must be after from")
    if end is not None and end <= now:
        raise InvalidVacation("until must be in the future")


def current(spans: Sequence[Vacation], now: datetime) -> list[Vacation]:
    """The spans that still matter: running now or planned (ended ones drop off)."""
    return [s for s in spans if s.end is None or s.end > now]


def plan(spans: Sequence[Vacation], new: Vacation, now: datetime) -> list[Vacation]:
    """`new` added; overlapping (or touching) spans merge into one, keeping the first's
    reason and note. Sorted by start."""
    merged: list[Vacation] = []
    for span in sorted([*current(spans, now), new], key=lambda s: s.start):
        last = merged[-1] if merged else None
        if last is not None and (last.end is None or span.start <= last.end):
            end = None if last.end is None or span.end is None else max(last.end, span.end)
            merged[-1] = last.model_copy(update={"end": end})
        else:
            merged.append(span)
    return merged


def end_now(spans: Sequence[Vacation], now: datetime) -> list[Vacation]:
    """The sender is back: the span running now ends now; planned ones stay planned."""
    return [
        s.model_copy(update={"end": now})
        if s.start <= now and (s.end is None or s.end > now)
        else s
        for s in current(spans, now)
    ]


def covering(spans: Sequence[Vacation], at: datetime) -> Vacation | None:
    """The span `at` falls in, if any."""
    for span in spans:
        if span.start <= at and (span.end is None or at < span.end):
            return span
    return None


def next_start(spans: Sequence[Vacation], after: datetime) -> datetime | None:
    starts = [s.start for s in spans if s.start > after]
    return min(starts) if starts else None


def released_at(spans: Sequence[Vacation], held_since: datetime, now: datetime) -> datetime | None:
    """When a hold that began at `held_since` ends by these spans: the end of the span that
    held it (once reached), or now if no span holds it any more (the vacation was cancelled).
    None while it still holds."""
    span = covering(spans, held_since)
    if span is None:
        return now
    if span.end is not None and span.end <= now:
        return span.end
    return None
