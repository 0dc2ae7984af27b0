"""The Slack stand-in as the benchmark sees it: another process (``python -m bot.dev.localslack``) driven over its
``/_local/`` routes. End-to-end figures are read from the calls it records and their arrival times, never from inside
Aprova, so they stay valid however Aprova makes its Slack calls."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import httpx

MARKER = re.compile(r"BENCH-\d{7}")


def markers_in(value: Any) -> set[str]:
    """The benchmark's markers (``BENCH-0000042``, see ``bench.interactions``) anywhere in a JSON value."""
    return set(MARKER.findall(json.dumps(value, ensure_ascii=False)))


@dataclass(frozen=True)
class RecordedCall:
    index: int
    method: str
    at: float  # time.time() when the stand-in received it
    error: str | None
    args: dict[str, Any]

    @property
    def ok(self) -> bool:
        return self.error is None

    @cached_property
    def markers(self) -> set[str]:
        """The benchmark's markers in the call's arguments."""
        return markers_in(self.args)


class StandIn:
    def __init__(self, api_url: str, http: httpx.AsyncClient) -> None:
        self.api_url = api_url
        self.base_url = api_url.removesuffix("api/")
        self._http = http
        self._seen: list[RecordedCall] = []

    async def _post(self, path: str, body: dict[str, Any]) -> None:
        (await self._http.post(f"{self.base_url}_local/{path}", json=body)).raise_for_status()

    async def _get(self, path: str, **params: str) -> Any:
        response = await self._http.get(f"{self.base_url}_local/{path}", params=params)
        response.raise_for_status()
        return response.json()

    async def add_user(self, user_id: str, **profile: Any) -> None:
        await self._post("users", {"user_id": user_id, **profile})

    async def rate_limit_randomly(self, fraction: float, *, retry_after: int = 1, seed: int | None = None) -> None:
        await self._post("rate_limit", {"fraction": fraction, "retry_after": retry_after, "seed": seed})

    async def dm_channel(self, user_id: str) -> str:
        return str((await self._get(f"dm/{user_id}"))["channel"])

    async def messages(self, channel: str) -> list[dict[str, Any]]:
        return list((await self._get("messages", channel=channel))["messages"])

    async def views(self, callback_id: str) -> list[dict[str, Any]]:
        return list((await self._get("views", callback_id=callback_id))["views"])

    async def calls(self) -> list[RecordedCall]:
        """Every call recorded so far (fetched incrementally)."""
        answer = await self._get("calls", after=str(len(self._seen)))
        self._seen.extend(RecordedCall(**c) for c in answer["calls"])
        return self._seen

    async def mark(self) -> int:
        """The index the next call will get: a phase's calls are those from its mark on."""
        return len(await self.calls())

    async def wait(
        self,
        since: int,
        done: Callable[[list[RecordedCall]], bool],
        *,
        settle: float = 0.5,
        give_up: float = 5.0,
        timeout: float = 300.0,
        poll: float = 0.1,
    ) -> list[RecordedCall]:
        """The calls from ``since`` on, once ``done`` says so and nothing new came for ``settle`` seconds (the app has
        finished what followed); or once nothing new came for ``give_up`` seconds (what is missing is not coming);
        or after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        count, changed = -1, time.monotonic()
        while True:
            calls = (await self.calls())[since:]
            now = time.monotonic()
            if len(calls) != count:
                count, changed = len(calls), now
            quiet = now - changed
            if (quiet >= settle and done(calls)) or quiet >= give_up or now >= deadline:
                return calls
            await asyncio.sleep(poll)
