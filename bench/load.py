"""The load generator: signed Slack requests sent open-loop (each leaves at its slot, whatever the earlier ones are
doing, as Slack's users do), and the figures made of what came back."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import aiohttp

from bot.dev import slack_payloads as payloads

SLACK_ACK_SECONDS = 3.0  # Slack shows the person an error when the answer takes longer
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


@dataclass(frozen=True)
class SlackRequest:
    body: str
    content_type: str = FORM


@dataclass(frozen=True)
class Sent:
    at: float  # time.time() as it left, comparable with the stand-in's arrival times
    latency_ms: float  # until the whole answer was read
    status: int  # 0: no answer at all
    answer: str

    @property
    def acknowledged(self) -> bool:
        """Answered 200 within Slack's 3 seconds; otherwise the person saw an error."""
        return self.status == 200 and self.latency_ms <= SLACK_ACK_SECONDS * 1000


def load_client() -> aiohttp.ClientSession:
    """No connection limit: a slow answer must not hold back the requests after it (open loop)."""
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), timeout=aiohttp.ClientTimeout(total=120))


async def send(
    http: aiohttp.ClientSession, url: str, request: SlackRequest, signature: dict[str, str] | None = None
) -> Sent:
    """One request and its answer; ``signature``: Slack's headers, made beforehand (else now)."""
    headers = {"Content-Type": request.content_type, **(signature or payloads.sign(request.body))}
    at, started = time.time(), time.perf_counter()
    try:
        async with http.post(url, data=request.body.encode(), headers=headers) as response:
            answer = await response.text()
            status = response.status
    except (aiohttp.ClientError, TimeoutError) as exc:
        answer, status = type(exc).__name__, 0
    return Sent(at, (time.perf_counter() - started) * 1000, status, answer)


async def open_loop(
    http: aiohttp.ClientSession, urls: Sequence[str], requests: Sequence[SlackRequest], *, rate: float
) -> list[Sent]:
    """Send ``requests`` at ``rate`` per second, to each of ``urls`` in turn; the answers in the same order."""
    signed = [payloads.sign(r.body) for r in requests]  # before the clock starts: signing is the sender's work
    tasks: list[asyncio.Task[Sent]] = []
    start = time.perf_counter()
    for i, request in enumerate(requests):
        await asyncio.sleep(max(0.0, i / rate - (time.perf_counter() - start)))
        tasks.append(asyncio.create_task(send(http, urls[i % len(urls)], request, signed[i])))
    return list(await asyncio.gather(*tasks))


def distribution(values: Sequence[float]) -> dict[str, float] | None:
    """p50, p99 (nearest rank) and max, in ms; None when there is nothing to describe."""
    if not values:
        return None
    ordered = sorted(values)

    def rank(q: float) -> float:
        return round(ordered[max(0, math.ceil(q * len(ordered)) - 1)], 1)

    return {"p50_ms": rank(0.50), "p99_ms": rank(0.99), "max_ms": round(ordered[-1], 1)}


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return round(numerator / denominator, 2)
