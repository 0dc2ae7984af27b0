"""Fault injection bookkeeping (what the next requests should suffer)."""

from __future__ import annotations

import asyncio
from dataclasses import asdict, dataclass, field
from typing import Any

FAULT_KINDS = ("fail", "slow", "drop")
CREATE_FAIL_MODES = ("error", "drop", "hang")
DEFAULT_HANG_SECONDS = 60.0


@dataclass
class FaultRule:
    """Affects the next `remaining` requests whose path starts with `path_prefix` (None = any path)."""

    kind: str
    remaining: int
    path_prefix: str | None = None
    status: int = 500
    retry_after: int | None = None
    seconds: float = 0.0

    def matches(self, path: str) -> bool:
        """True when the rule applies to this request path."""
        return self.path_prefix is None or path.startswith(self.path_prefix)


@dataclass
class Faults:
    """Pending faults; every rule is consumed one request at a time."""

    rules: list[FaultRule] = field(default_factory=list)
    create_then_fail: list[str] = field(default_factory=list)
    hang_seconds: float = DEFAULT_HANG_SECONDS  # how long a "hang" create holds its answer before dropping
    protocols_stay_pending: bool = False
    protocols_error_remaining: int = 0
    # Requests to these paths wait, unanswered, until released: a token endpoint as slow as a test needs.
    held_prefixes: list[str] = field(default_factory=list)
    held_now: int = 0
    _released: asyncio.Event = field(default_factory=asyncio.Event, repr=False)
    _arrived: asyncio.Event = field(default_factory=asyncio.Event, repr=False)
    protocols_discard_remaining: int = 0

    def add(self, rule: FaultRule) -> None:
        """Queue a rule (ignored when n <= 0)."""
        if rule.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {rule.kind!r}")
        if rule.remaining > 0:
            self.rules.append(rule)

    def take(self, kind: str, path: str) -> FaultRule | None:
        """Consume one occurrence of the first matching rule of `kind`."""
        for rule in self.rules:
            if rule.kind == kind and rule.remaining > 0 and rule.matches(path):
                rule.remaining -= 1
                if rule.remaining == 0:
                    self.rules.remove(rule)
                return rule
        return None

    def take_create_failure(self) -> str | None:
        """Consume one create-then-fail mode ("error" | "drop" | "hang"), if any is queued."""
        return self.create_then_fail.pop(0) if self.create_then_fail else None

    def take_protocol_error(self) -> bool:
        """Consume one forced protocol error."""
        if self.protocols_error_remaining > 0:
            self.protocols_error_remaining -= 1
            return True
        return False

    def hold(self, path_prefix: str) -> None:
        """From now on, requests to ``path_prefix`` wait until ``release_held``."""
        self.held_prefixes.append(path_prefix)
        self._released.clear()

    async def wait_if_held(self, path: str) -> None:
        """Called by the middleware: block this request while its path is held."""
        if not any(path.startswith(prefix) for prefix in self.held_prefixes):
            return
        self.held_now += 1
        self._arrived.set()
        try:
            await self._released.wait()
        finally:
            self.held_now -= 1

    async def until_held(self) -> None:
        """Return once a request is being held."""
        while not self.held_now:
            self._arrived.clear()
            await self._arrived.wait()

    def release_held(self) -> None:
        """Answer every held request, and hold no more."""
        self.held_prefixes.clear()
        self._released.set()

    def take_protocol_discard(self) -> bool:
        """Consume one forced silent discard."""
        if self.protocols_discard_remaining > 0:
            self.protocols_discard_remaining -= 1
            return True
        return False

    def clear(self) -> None:
        """Forget every pending fault."""
        self.release_held()
        self.rules.clear()
        self.create_then_fail.clear()
        self.hang_seconds = DEFAULT_HANG_SECONDS
        self.protocols_stay_pending = False
        self.protocols_error_remaining = 0
        self.protocols_discard_remaining = 0

    def summary(self) -> dict[str, Any]:
        """JSON-friendly view for /_sandbox/state."""
        return {
            "rules": [asdict(r) for r in self.rules],
            "create_then_fail": list(self.create_then_fail),
            "hang_seconds": self.hang_seconds,
            "protocols_stay_pending": self.protocols_stay_pending,
            "protocols_error_remaining": self.protocols_error_remaining,
            "held_prefixes": list(self.held_prefixes),
            "held_now": self.held_now,
            "protocols_discard_remaining": self.protocols_discard_remaining,
        }
