"""Holiday calendars, from the maintained `holidays` package: a country ("FR") or a
country's subdivision ("US-CA").

They are resolved to dates when a sequence is made, for that year and the two after it, and
the dates travel in its definition: a running recipient never asks the package (which reads
locale data, out of bounds in a workflow), and a newer package cannot move a step of a
recipient already on its way.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import holidays

YEARS_AHEAD = 2  # beyond the year the sequence is made


class UnknownCalendar(ValueError):
    pass


def check_calendar(name: str) -> str:
    country, _, subdivision = name.partition("-")
    supported = holidays.list_supported_countries()
    if country not in supported:
        raise UnknownCalendar(
            f"{name!r} is not a holiday calendar: use an ISO 3166 country code like FR or US,"
            " or a country-subdivision like US-CA"
        )
    if subdivision and subdivision not in supported[country]:
        raise UnknownCalendar(
            f"{name!r}: {country} has no subdivision {subdivision!r}"
            f" (it has {', '.join(supported[country][:12])}, …)"
        )
    return name


def holiday_dates(calendars: Iterable[str], from_year: int) -> list[date]:
    """Every holiday of these calendars in `from_year` and the YEARS_AHEAD after it."""
    years = list(range(from_year, from_year + YEARS_AHEAD + 1))
    found: set[date] = set()
    for name in calendars:
        country, _, subdivision = name.partition("-")
        found |= set(holidays.country_holidays(country, subdiv=subdivision or None, years=years))
    return sorted(found)
