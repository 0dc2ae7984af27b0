"""A loop inside the app process: runs one pass at start, whenever woken, and every second; stops gracefully.

The posting loop and the delivery worker are both this; each says what one pass does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

log = logging.getLogger(__name__)

IDLE_POLL_SECONDS = 1.0  # picks up work left behind, or due again, within a second


class BackgroundLoop:
    name = "loop"
    # On shutdown, time to finish the pass in hand (platforms allow ~30 s after SIGTERM).
    stop_grace_seconds = 15.0

    def __init__(self) -> None:
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    async def run_pass(self) -> Any:
        """Do whatever is due now (each subclass says what)."""
        raise NotImplementedError

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        """Finish the pass in hand, then stop (cancelled if that takes too long: leases then run out and another
        instance, or the next start, takes over)."""
        if self._task is None:
            return
        self._stopping = True
        self._wake.set()
        try:
            await asyncio.wait_for(asyncio.shield(self._task), self.stop_grace_seconds)
        except TimeoutError:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while not self._stopping:
            try:
                await self.run_pass()
            except Exception:  # the loop must outlive any one bad pass; the error is logged with its trace
                log.exception("%s failed; retrying shortly", self.name)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), IDLE_POLL_SECONDS)
            self._wake.clear()
