"""ISO weeks ("2026-W05"): the unit of topic archive pages and of the weekly digest."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta

WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
# Years a week may name: each has a week before and after it that datetime can hold (9999-W52
# would end past year 9999), and none is before arXiv, so nothing real is refused.
YEARS = range(1000, 9999)


def week_of(moment: datetime | date) -> str:
    """The ISO week holding `moment`, as "YYYY-Www"."""
    year, week, _ = moment.isocalendar()
    return f"{year}-W{week:02d}"


def week_bounds(week: str) -> tuple[datetime, datetime]:
    """[Monday 00:00 UTC, next Monday 00:00 UTC) of an ISO week; ValueError if malformed."""
    match = WEEK.match(week)
    if match is None:
        raise ValueError(f"not an ISO week (YYYY-Www): {week!r}")
    year, number = int(match.group(1)), int(match.group(2))
    if year not in YEARS:
        raise ValueError(f"no such ISO week: {week!r} (years {YEARS.start} to {YEARS.stop - 1})")
    try:
        monday = date.fromisocalendar(year, number, 1)
    except ValueError:
        raise ValueError(f"no such ISO week: {week!r}") from None
    start = datetime.combine(monday, time(0), tzinfo=UTC)
    return start, start + timedelta(days=7)


def previous_week(week: str) -> str:
    start, _ = week_bounds(week)
    return week_of(start - timedelta(days=7))


def next_week(week: str) -> str:
    _, end = week_bounds(week)
    return week_of(end)
