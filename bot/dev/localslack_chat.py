"""LocalSlack's messages: chat.postMessage, chat.update, chat.postEphemeral, reactions.add, and reading them back
with conversations.history and conversations.replies (message metadata included when asked)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from .localslack_workspace import JSONDict, SlackError, Workspace, flag

MAX_MESSAGE_BLOCKS = 50


class Chat:
    """The messages and ephemeral messages posted so far, and the chat methods that post and change them."""

    def __init__(self, workspace: Workspace, dm_channel: Callable[[str], str]) -> None:
        self._workspace = workspace
        self._dm_channel = dm_channel
        self._last_ts_us = 0
        self._messages: dict[tuple[str, str], JSONDict] = {}
        self._ephemerals: list[JSONDict] = []

    # -- inspection --------------------------------------------------------

    def messages(self, channel: str | None = None) -> list[JSONDict]:
        """Posted messages (thread replies included) as they are now, oldest first."""
        return [dict(m) for m in self._messages.values() if channel is None or m["channel"] == channel]

    def thread(self, channel: str, ts: str) -> list[JSONDict]:
        """Replies to the message channel/ts, without the parent."""
        return [m for m in self.messages(channel) if m["thread_ts"] == ts and m["ts"] != ts]

    def ephemerals(self, user: str | None = None) -> list[JSONDict]:
        """Ephemeral messages, optionally only those shown to one user."""
        return [dict(m) for m in self._ephemerals if user is None or m["user"] == user]

    # -- methods -----------------------------------------------------------

    def post_message(self, args: JSONDict) -> JSONDict:
        """chat.postMessage."""
        channel = self._channel(args)
        blocks = _message_blocks(args)
        text = str(args.get("text") or "")
        if not text and not blocks:
            raise SlackError("no_text")
        thread_ts = args.get("thread_ts") or None
        ts = self._next_ts()
        message: JSONDict = {
            "channel": channel,
            "ts": ts,
            "text": text,
            "blocks": blocks,
            "thread_ts": thread_ts,
            "user": self._workspace.bot_user_id,
        }
        if thread_ts and flag(args.get("reply_broadcast")):
            message["subtype"] = "thread_broadcast"
        if isinstance(args.get("metadata"), dict):
            message["metadata"] = args["metadata"]
        self._messages[(channel, ts)] = message
        return {"ok": True, "channel": channel, "ts": ts, "message": self._message_payload(message)}

    def update(self, args: JSONDict) -> JSONDict:
        """chat.update."""
        channel = args.get("channel")
        if not channel:
            raise SlackError("channel_not_found")
        message = self._messages.get((str(channel), str(args.get("ts"))))
        if message is None:
            raise SlackError("message_not_found")
        blocks = _message_blocks(args)
        if "text" not in args and blocks is None:
            raise SlackError("no_text")
        if "text" in args:
            message["text"] = str(args["text"] or "")
        if blocks is not None:
            # Like Slack: omitted blocks are kept, an empty list removes them.
            message["blocks"] = blocks or None
        return {
            "ok": True,
            "channel": message["channel"],
            "ts": message["ts"],
            "text": message["text"],
            "message": self._message_payload(message),
        }

    def post_ephemeral(self, args: JSONDict) -> JSONDict:
        """chat.postEphemeral."""
        channel = self._channel(args)
        user = args.get("user")
        if not user:
            raise SlackError("user_not_in_channel")
        blocks = _message_blocks(args)
        text = str(args.get("text") or "")
        if not text and not blocks:
            raise SlackError("no_text")
        message_ts = self._next_ts()
        self._ephemerals.append(
            {
                "channel": channel,
                "user": str(user),
                "text": text,
                "blocks": blocks,
                "thread_ts": args.get("thread_ts") or None,
                "message_ts": message_ts,
            }
        )
        return {"ok": True, "message_ts": message_ts}

    def add_reaction(self, args: JSONDict) -> JSONDict:
        """reactions.add (checked, not stored)."""
        if not args.get("name"):
            raise SlackError("invalid_name")
        if not args.get("channel") or not args.get("timestamp"):
            raise SlackError("no_item_specified")
        return {"ok": True}

    # -- helpers -----------------------------------------------------------

    def history(self, args: JSONDict) -> JSONDict:
        """conversations.history: top-level messages (and broadcast replies), newest first, from ``oldest`` on."""
        channel = self._known_channel(args)
        found = [
            m
            for m in self._messages.values()
            if m["channel"] == channel and (m["thread_ts"] in (None, m["ts"]) or m.get("subtype") == "thread_broadcast")
        ]
        return self._page(found, args)

    def replies(self, args: JSONDict) -> JSONDict:
        """conversations.replies: a thread's parent, then its replies, oldest first."""
        channel, ts = self._known_channel(args), str(args.get("ts") or "")
        if (channel, ts) not in self._messages:
            raise SlackError("thread_not_found")
        found = [
            m for m in self._messages.values() if m["channel"] == channel and (m["ts"] == ts or m["thread_ts"] == ts)
        ]
        page = self._page(found, args)
        page["messages"].reverse()
        return page

    def _known_channel(self, args: JSONDict) -> str:
        channel = str(args.get("channel") or "")
        if not channel or channel[:1] in ("U", "W"):  # history wants a conversation id, not a user id
            raise SlackError("channel_not_found")
        return channel

    def _page(self, found: list[JSONDict], args: JSONDict) -> JSONDict:
        oldest = float(args.get("oldest") or 0)
        limit = int(args.get("limit") or 100)
        with_metadata = flag(args.get("include_all_metadata"))
        newest_first = sorted(
            (m for m in found if float(m["ts"]) >= oldest), key=lambda m: float(m["ts"]), reverse=True
        )
        messages = []
        for message in newest_first[:limit]:
            payload = self._message_payload(message)
            if with_metadata and message.get("metadata"):
                payload["metadata"] = message["metadata"]
            messages.append(payload)
        return {"ok": True, "messages": messages, "has_more": len(newest_first) > limit}

    def _next_ts(self) -> str:
        self._last_ts_us = max(time.time_ns() // 1000, self._last_ts_us + 1)
        return f"{self._last_ts_us // 1_000_000}.{self._last_ts_us % 1_000_000:06d}"

    def _channel(self, args: JSONDict) -> str:
        channel = args.get("channel")
        if not channel:
            raise SlackError("channel_not_found")
        channel = str(channel)
        # Slack delivers a message addressed to a user id to the bot's DM with that user.
        return self._dm_channel(channel) if channel[:1] in ("U", "W") else channel

    def _message_payload(self, message: JSONDict) -> JSONDict:
        payload: JSONDict = {
            "type": "message",
            "text": message["text"],
            "user": message["user"],
            "bot_id": self._workspace.bot_id,
            "app_id": self._workspace.app_id,
            "team": self._workspace.team_id,
            "ts": message["ts"],
        }
        if message.get("subtype"):
            payload["subtype"] = message["subtype"]
        if message["blocks"] is not None:
            payload["blocks"] = message["blocks"]
        if message["thread_ts"] is not None:
            payload["thread_ts"] = message["thread_ts"]
        return payload


def _message_blocks(args: JSONDict) -> list[Any] | None:
    blocks = args.get("blocks")
    if blocks is None:
        return None
    if not isinstance(blocks, list):
        raise SlackError("invalid_blocks_format")
    if len(blocks) > MAX_MESSAGE_BLOCKS:
        raise SlackError(
            "invalid_blocks", f"[ERROR] no more than {MAX_MESSAGE_BLOCKS} items allowed [json-pointer:/blocks]"
        )
    return blocks
