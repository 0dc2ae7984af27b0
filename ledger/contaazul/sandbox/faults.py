"""Fault injection bookkeeping (what the next requests should suffer)."""

from __future__ import annotations

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

    def take_protocol_discard(self) -> bool:
        """Consume one forced silent discard."""
        if self.protocols_discard_remaining > 0:
            self.protocols_discard_remaining -= 1
            return True
        return False

    def clear(self) -> None:
        """Forget every pending fault."""
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
            "protocols_discard_remaining": self.protocols_discard_remaining,
        }
