"""The signed Slack request builders live in ``bot.slack_payloads`` (the demo uses them too); re-exported here."""

from __future__ import annotations

from bot.slack_payloads import (
    SIGNING_SECRET,
    TEAM_ID,
    block_actions,
    block_suggestion,
    event_callback,
    sign,
    slash_command,
    state_values,
    view_submission,
)

__all__ = [
    "SIGNING_SECRET",
    "TEAM_ID",
    "block_actions",
    "block_suggestion",
    "event_callback",
    "sign",
    "slash_command",
    "state_values",
    "view_submission",
]
