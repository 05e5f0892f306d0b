"""What time it is: utc_now() for stamping rows, and SystemClock for code that also waits.

Tests freeze time by passing their own clock (a function, or an object with the same methods)
where these are the defaults: Runtime.clock, create_app(clock=...), the mailer's clock.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Protocol


def utc_now() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


class Clock(Protocol):
    """What the mailer asks of a clock: SystemClock, or a test's frozen one."""

    def now(self) -> datetime: ...

    def monotonic(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clock for the mailer: wall time, a monotonic counter and sleeping."""

    def now(self) -> datetime:
        return utc_now()

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
