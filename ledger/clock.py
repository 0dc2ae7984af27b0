"""Time as a dependency, so tests move it instead of sleeping."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

BRAZIL = ZoneInfo("America/Sao_Paulo")


class SystemClock:
    """Wall-clock time; business dates are São Paulo dates."""

    def __init__(self, tz: ZoneInfo = BRAZIL) -> None:
        self.tz = tz

    def now(self) -> datetime:
        return datetime.now(UTC)

    def today(self) -> date:
        return self.now().astimezone(self.tz).date()


class FixedClock(SystemClock):
    """A clock that only moves when told to."""

    def __init__(self, at: datetime, tz: ZoneInfo = BRAZIL) -> None:
        super().__init__(tz)
        if at.tzinfo is None:
            raise ValueError("FixedClock needs an aware datetime")
        self._at = at.astimezone(UTC)

    def now(self) -> datetime:
        return self._at

    def advance(self, delta: timedelta) -> None:
        self._at += delta

    def set(self, at: datetime) -> None:
        self._at = at.astimezone(UTC)

    async def sleep(self, seconds: float) -> None:
        """Wait by moving this clock (rate limits, Retry-After, protocol polling), yielding once to other tasks."""
        self._at += timedelta(seconds=seconds)
        await asyncio.sleep(0)
