"""Crontab lines as APScheduler triggers, read the way crontab reads them (days of the week
0-7 with 0 and 7 = Sunday), for the scheduler and for checking the settings."""

from __future__ import annotations

import re
from datetime import UTC

from apscheduler.triggers.cron import CronTrigger

DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")


def cron_trigger(expression: str) -> CronTrigger:
    """A CronTrigger for a crontab line, in UTC; ValueError says what is wrong with a bad one.

    APScheduler 3 counts days of the week from Monday = 0, so "0 7 * * 1" would fire on
    Tuesdays; numeric days are turned into day names first."""
    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(f"a crontab line has 5 fields (minute hour day month day-of-week), not {len(fields)}")
    minute, hour, day, month, day_of_week = fields
    return CronTrigger(
        minute=minute, hour=hour, day=day, month=month, day_of_week=_day_names(day_of_week), timezone=UTC
    )


def _day_names(field: str) -> str:
    if field == "*":
        return field
    names: list[str] = []
    for part in field.split(","):
        if re.search(r"[a-z]", part, re.IGNORECASE):
            names.append(part)  # already names, which mean the same to both
            continue
        base, _, step = part.partition("/")
        try:
            if base == "*":
                low, high = 0, 6
            elif "-" in base:
                low, high = (int(n) for n in base.split("-", 1))
            else:
                low = int(base)
                high = 6 if step else low
            stride = int(step or 1)
        except ValueError:
            raise ValueError(f"day of the week {part!r} is not a number, range or name") from None
        if not (0 <= low <= high <= 7) or stride < 1:
            raise ValueError(f"day of the week {part!r} is outside 0-7 (0 and 7 are Sunday)")
        for number in range(low, high + 1, stride):
            if DAY_NAMES[number] not in names:
                names.append(DAY_NAMES[number])
    return ",".join(names)
