"""LocalSlack's Socket Mode: ``apps.connections.open`` (authorised by the app-level token, not the bot token) and the
WebSocket it hands out, which greets with ``hello`` and carries envelopes to the app and its acks back."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from aiohttp import WSMsgType, web

from .localslack_workspace import JSONDict, Workspace


class SocketMode:
    """The Socket Mode connections an app opened, the envelopes sent to it and the acks it answered with."""

    def __init__(self, workspace: Workspace, base_url: Callable[[], str]) -> None:
        self._workspace = workspace
        self._base_url = base_url
        self._sockets: list[web.WebSocketResponse] = []
        self.acks: list[JSONDict] = []
        self._changed = asyncio.Condition()

    def open(self, args: JSONDict) -> JSONDict:
        """apps.connections.open: a WebSocket URL for one connection."""
        ws_base = self._base_url().replace("http://", "ws://", 1)
        return {"ok": True, "url": f"{ws_base}socket-mode/{self._workspace.new_id('W')}"}

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        await socket.send_json(
            {
                "type": "hello",
                "num_connections": len(self._sockets) + 1,
                "connection_info": {"app_id": self._workspace.app_id},
                "debug_info": {"host": "localslack", "approximate_connection_time": 3600},
            }
        )
        async with self._changed:
            self._sockets.append(socket)
            self._changed.notify_all()
        try:
            async for message in socket:
                if message.type == WSMsgType.TEXT:
                    async with self._changed:
                        self.acks.append(json.loads(message.data))
                        self._changed.notify_all()
        finally:
            self._sockets.remove(socket)
        return socket

    @property
    def connected(self) -> int:
        """How many Socket Mode connections are open."""
        return len(self._sockets)

    async def wait_connected(self, timeout: float = 10.0) -> None:
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: bool(self._sockets))

    async def deliver(self, kind: str, payload: dict[str, Any], timeout: float = 10.0) -> JSONDict:
        """Send an envelope (``slash_commands``, ``interactive``, ``events_api``) and wait for the app's ack."""
        envelope_id = self._workspace.new_id("E")
        await self._sockets[-1].send_json(
            {"envelope_id": envelope_id, "type": kind, "payload": payload, "accepts_response_payload": True}
        )
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: any(a.get("envelope_id") == envelope_id for a in self.acks))
        return next(a for a in self.acks if a.get("envelope_id") == envelope_id)

    async def close(self) -> None:
        """Close every connection (before the server stops, so it does not wait on them)."""
        for socket in list(self._sockets):
            await socket.close()
