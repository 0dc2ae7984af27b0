"""What LocalSlack's method families share: the workspace they answer for, Slack's error answer, loose arguments."""

from __future__ import annotations

import itertools
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

JSONDict = dict[str, Any]


def _first_id() -> Iterator[int]:
    # Slack ids are unique across runs (a view id keys a submission): start each instance somewhere new.
    return itertools.count(secrets.randbelow(0x7000_0000) + 1)


@dataclass(frozen=True)
class Workspace:
    """The team LocalSlack plays, the bot and app installed in it, and the ids it hands out."""

    team_id: str
    bot_user_id: str
    bot_id: str = "B0001"
    app_id: str = "A0001"
    _ids: Iterator[int] = field(init=False, default_factory=_first_id, repr=False, compare=False)

    def new_id(self, prefix: str) -> str:
        """A fresh Slack-style id: the prefix ("V" for a view, "F" for a file...) and eight hex digits."""
        return f"{prefix}{next(self._ids):08X}"

    def new_trigger_id(self) -> str:
        """A fresh, unused trigger id."""
        return f"{time.time_ns() // 1000}.{next(self._ids)}.{secrets.token_hex(16)}"


class SlackError(Exception):
    """A Web API error: answered as {"ok": false, "error": ...} (with Slack's detail message, if any)."""

    def __init__(self, error: str, detail: str | None = None) -> None:
        super().__init__(error)
        self.error = error
        self.detail = detail

    def body(self) -> JSONDict:
        """The JSON answer."""
        body: JSONDict = {"ok": False, "error": self.error}
        if self.detail:
            body["response_metadata"] = {"messages": [self.detail]}
        return body


def flag(value: Any) -> bool:
    """A boolean argument, sent as true/false or 1/0."""
    return str(value).lower() in {"1", "true"}


def csv_values(value: Any) -> list[str]:
    """A list argument, sent as a JSON list or comma-separated."""
    if isinstance(value, list):
        return [str(v) for v in value]
    return [v.strip() for v in str(value or "").split(",") if v.strip()]
