"""``python -m bench``: Aprova's performance, each figure beside a baseline measured in the same run.

- ack latency of slash commands, Aprova vs a bare Bolt app that only acks (same aiohttp + Bolt stack, same
  loopback Slack stand-in), at a steady rate and in a burst;
- posting drain: N approved requests → N payables in the Conta Azul sandbox enforcing 10 requests/s, as a
  ratio to the floor that limit sets, with the Conta Azul calls spent per payable.

Prints a JSON summary.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from aiohttp import web
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bench.posting import run_drain
from bot.app import build_bolt_app
from bot.deps import Deps
from bot.localslack import LocalSlack
from bot.people import People
from bot.server import create_web_app
from bot.settings import Settings
from ledger.clock import FixedClock
from ledger.db import create_engine, create_session_factory
from ledger.models import Base
from ledger.policy import parse_policy
from tests import slack_payloads as payloads

POLICY = parse_policy({"default": {"steps": [{"name": "Financeiro", "approvers": ["U0MGR"]}]}})


async def serve(web_app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(web_app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"


def bare_bolt_app(slack: LocalSlack) -> web.Application:
    """The floor: the same Bolt stack whose only listener acks."""
    app = AsyncApp(
        client=AsyncWebClient(token=slack.bot_token, base_url=slack.api_url),
        signing_secret=payloads.SIGNING_SECRET,
    )

    async def ack_only(ack: Callable[[], Awaitable[None]]) -> None:
        await ack()

    app.command("/pagamento")(ack_only)

    async def events(request: web.Request) -> web.StreamResponse:
        from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request

        return await to_aiohttp_response(await app.async_dispatch(await to_bolt_request(request)))

    web_app = web.Application()
    web_app.router.add_post("/slack/events", events)
    return web_app


async def measure(base_url: str, slack: LocalSlack, *, count: int, rate: float | None) -> list[float]:
    """Ack latency (ms) of ``count`` slash commands, sent at ``rate`` per second or all at once."""
    latencies: list[float] = []
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:

        async def one() -> None:
            body = payloads.slash_command("/pagamento", user_id="U0REQ", trigger_id=slack.new_trigger_id())
            headers = {"Content-Type": "application/x-www-form-urlencoded", **payloads.sign(body)}
            started = time.perf_counter()
            response = await http.post("/slack/events", content=body, headers=headers)
            latencies.append((time.perf_counter() - started) * 1000)
            response.raise_for_status()

        await one()  # warm-up: first auth.test, connection set-up
        latencies.clear()
        tasks = []
        start = time.perf_counter()
        for i in range(count):
            if rate:  # open-loop arrivals: each request leaves at its slot, whatever the earlier ones do
                await asyncio.sleep(max(0.0, i / rate - (time.perf_counter() - start)))
            tasks.append(asyncio.create_task(one()))
        await asyncio.gather(*tasks)
    return latencies


def summary(latencies: list[float]) -> dict[str, float]:
    ordered = sorted(latencies)
    return {
        "p50_ms": round(statistics.median(ordered), 2),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 2),
        "max_ms": round(ordered[-1], 2),
    }


async def run(count: int, rate: float) -> dict[str, Any]:
    results: dict[str, Any] = {"count": count, "rate_per_s": rate}
    with tempfile.TemporaryDirectory() as tmp:
        engine = create_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
        async with engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
        async with LocalSlack() as slack:
            slack.add_user("U0REQ", locale="pt-BR")
            clock = FixedClock(datetime.now(UTC))
            settings = Settings(
                slack_bot_token=slack.bot_token,
                slack_signing_secret=payloads.SIGNING_SECRET,
                slack_api_url=slack.api_url,
            )
            deps = Deps(settings, create_session_factory(engine), clock, POLICY, People(clock, "pt_BR"))
            aprova_runner, aprova_url = await serve(create_web_app(deps, build_bolt_app(deps)))
            bare_runner, bare_url = await serve(bare_bolt_app(slack))
            try:
                for mode, mode_rate in (("steady", rate), ("burst", None)):
                    bare = summary(await measure(bare_url, slack, count=count, rate=mode_rate))
                    aprova = summary(await measure(aprova_url, slack, count=count, rate=mode_rate))
                    results[f"slash_command_ack_{mode}"] = {
                        "aprova": aprova,
                        "bare_bolt": bare,
                        "p99_ratio_to_bare": round(aprova["p99_ms"] / bare["p99_ms"], 2),
                        "p50_ratio_to_bare": round(aprova["p50_ms"] / bare["p50_ms"], 2),
                    }
            finally:
                await aprova_runner.cleanup()
                await bare_runner.cleanup()
        await engine.dispose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--count", type=int, default=500, help="slash commands per ack measurement")
    parser.add_argument("--rate", type=float, default=100.0, help="steady rate, interactions per second")
    parser.add_argument("--payables", type=int, default=200, help="approved requests to drain")
    parser.add_argument("--only", choices=["ack", "drain"], help="run one part only")
    args = parser.parse_args()
    summary: dict[str, Any] = {}
    if args.only in (None, "ack"):
        summary["ack"] = asyncio.run(run(args.count, args.rate))
    if args.only in (None, "drain"):
        summary["posting_drain"] = asyncio.run(run_drain(args.payables))
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
