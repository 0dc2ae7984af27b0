"""State the Conta Azul clients share: the rate limiter, the lookup cache, the create route in use; lease checks.

Kept apart from the client because one ``RateLimiter`` and one ``LookupCache`` are shared by every client of a team,
and one ``CreateRoute`` by every client of a process (the connector builds them), and apart from the wire format
because they hold state and wait on a clock.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from ledger.contaazul.models import Route
from ledger.errors import RetryableGatewayError
from ledger.ports import Clock

Sleep = Callable[[float], Awaitable[None]]


# --------------------------------------------------------------------------- rate limiting and cache


class _LoopLock:
    """An asyncio.Lock remade per event loop, so a long-lived registry survives test loops."""

    def __init__(self) -> None:
        self._lock: asyncio.Lock | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def get(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        if self._lock is None or self._loop is not loop:
            self._lock = asyncio.Lock()
            self._loop = loop
        return self._lock


def check_send_by(send_by: datetime | None, now: datetime, wait: float, why: str) -> None:
    """Refuse a wait that would let a request leave after ``send_by`` (the posting lease's last safe moment)."""
    if send_by is not None and now + timedelta(seconds=wait) > send_by:
        raise RetryableGatewayError(f"not sent: {why} ({wait:.1f}s) would outlast the posting lease", retry_after=wait)


class RateLimiter:
    """Sliding-window limiter for one connected account: at most ``per_second`` and ``per_minute`` requests."""

    # The server counts a request when it arrives, somewhere between our send and the answer. So through slot()
    # a request holds its place from the send until one window length after the answer: whatever the latency,
    # the server never sees more than the limit in any window.

    def __init__(
        self, *, clock: Clock, sleep: Sleep | None = None, per_second: int = 10, per_minute: int = 500
    ) -> None:
        """Use ``clock`` for time and ``sleep`` to wait (inject both to test without real waiting)."""
        if per_second < 1 or per_minute < 1:
            raise ValueError("rate limits must be positive")
        self._clock = clock
        self._sleep: Sleep = sleep or asyncio.sleep
        self.per_second = per_second
        self.per_minute = per_minute
        self._finished: list[datetime] = []  # sorted instants from which past requests stop counting down
        self._in_flight = 0
        self._blocked_until: datetime | None = None
        self._lock = _LoopLock()
        self.total_granted = 0
        self.total_waited = 0.0

    async def acquire(self) -> None:
        """Wait until one more request fits in both windows and count it as sent and answered right now."""
        await self._wait_for_room()
        bisect.insort(self._finished, self._clock.now())

    @contextlib.asynccontextmanager
    async def slot(self, *, send_by: datetime | None = None) -> AsyncIterator[None]:
        """Wait for room, then hold it while the request is in flight; it keeps counting after it ends.

        With ``send_by``, a wait that would end later raises ``RetryableGatewayError`` instead of waiting.
        """
        await self._wait_for_room(send_by)
        self._in_flight += 1
        try:
            yield
        finally:
            self._in_flight -= 1
            bisect.insort(self._finished, self._clock.now())

    def block_until(self, until: datetime) -> None:
        """Hold every request until ``until`` (after a 429, the whole team backs off)."""
        if self._blocked_until is None or until > self._blocked_until:
            self._blocked_until = until

    async def _wait_for_room(self, send_by: datetime | None = None) -> None:
        async with self._lock.get():
            while True:
                now = self._clock.now()
                wait = self._wait_needed(now)
                if wait <= 0:
                    self.total_granted += 1
                    return
                check_send_by(send_by, now, wait, "waiting for the rate limit")
                self.total_waited += wait
                await self._sleep(wait)

    def _wait_needed(self, now: datetime) -> float:
        minute_ago = now - timedelta(minutes=1)
        drop = bisect.bisect_right(self._finished, minute_ago)
        del self._finished[:drop]
        waits = [0.0]
        if self._blocked_until is not None and self._blocked_until > now:
            waits.append((self._blocked_until - now).total_seconds())
        for limit, span in ((self.per_second, timedelta(seconds=1)), (self.per_minute, timedelta(minutes=1))):
            recent = self._finished[bisect.bisect_right(self._finished, now - span) :]
            count = len(recent) + self._in_flight
            if count >= limit:
                # In-flight requests free their place no sooner than one span from now.
                frees_at = recent + [now] * self._in_flight
                waits.append((frees_at[count - limit] + span - now).total_seconds())
        return max(waits)


class CreateRoute:
    """The create route in use: the configured one until Conta Azul answers the synchronous route ``404``/``405`` (it
    does not exist for the account yet), then the asynchronous one for every client sharing this object."""

    def __init__(self, configured: Route = "sync") -> None:
        self.current: Route = configured

    def sync_missing(self) -> None:
        """The synchronous route was refused as absent: use the asynchronous one from now on."""
        self.current = "async"


class LookupCache:
    """A small TTL cache of lookups for one team, shared by every client of that team."""

    def __init__(self) -> None:
        self._entries: dict[tuple[str, ...], tuple[datetime, Any]] = {}

    def get(self, key: tuple[str, ...], now: datetime) -> Any:
        """The cached value, or None when absent or expired."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] <= now:
            del self._entries[key]
            return None
        return entry[1]

    def put(self, key: tuple[str, ...], value: Any, expires_at: datetime) -> None:
        """Remember ``value`` (not None: misses are never cached) until ``expires_at``."""
        if value is None:
            raise ValueError("None cannot be cached")
        self._entries[key] = (expires_at, value)

    def forget(self, key: tuple[str, ...]) -> None:
        """Drop one entry."""
        self._entries.pop(key, None)

    def invalidate(self, kind: str) -> None:
        """Drop every entry whose key starts with ``kind``."""
        for key in [k for k in self._entries if k[0] == kind]:
            del self._entries[key]

    def clear(self) -> None:
        """Drop everything."""
        self._entries.clear()


__all__ = [
    "CreateRoute",
    "LookupCache",
    "RateLimiter",
    "Sleep",
    "check_send_by",
]
