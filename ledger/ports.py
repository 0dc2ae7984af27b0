"""What the ledger needs from the outside world, as structural types.

Adapters live elsewhere (``bot/`` for Slack, ``ledger/contaazul/`` for the books); tests use real peers.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware UTC."""
        ...

    def today(self) -> date:
        """Today's business date (São Paulo)."""
        ...


class Directory(Protocol):
    """Resolves the people behind a user group (a Slack user group in production)."""

    async def group_members(self, group_id: str) -> list[str]:
        """User ids in the group, in a stable order; empty when the group is empty or unknown."""
        ...
