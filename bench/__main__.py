"""``python -m bench``: Aprova's performance, each figure beside a baseline measured in the same run.

- ack latency of slash commands, modal submissions and button clicks, Aprova vs a bare Bolt app that only acks
  (same aiohttp + Bolt stack, same loopback Slack stand-in), at a steady rate and in a burst;
- posting drain: N approved requests → N payables in the Conta Azul sandbox enforcing 10 requests/s, as a
  ratio to the floor that limit sets, with the Conta Azul calls spent per payable;
- scale-out on PostgreSQL: the same drain by one and by two worker processes, with the limit and without it;
- peak memory (RSS) of the bench process and of each worker process.

Prints a JSON summary.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from aiohttp import web
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bench.memory import peak_rss_mib
from bench.posting import run_drain, run_scale_out
from bot.blocks.request_messages import build_approval_message
from bot.blocks.request_modal import build_request_modal
from bot.deps import Deps
from bot.dev import slack_payloads as payloads
from bot.dev.localslack import LocalSlack
from bot.settings import Settings
from bot.wiring import assemble
from ledger import flows
from ledger.clock import SystemClock
from ledger.db import create_engine, create_session_factory
from ledger.domain import PaymentMethod, PlannedStep, RequestDraft
from ledger.models import Base
from ledger.policy import parse_policy

POLICY = parse_policy({"default": {"steps": [{"name": "Financeiro", "approvers": ["U0MGR"]}]}})


async def serve(web_app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(web_app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"


def bare_bolt_app(slack: LocalSlack) -> web.Application:
    """The floor: the same Bolt stack whose only listeners ack (a command, a modal submission, a button)."""
    app = AsyncApp(
        client=AsyncWebClient(token=slack.bot_token, base_url=slack.api_url),
        signing_secret=payloads.SIGNING_SECRET,
    )

    async def ack_only(ack: Callable[[], Awaitable[None]]) -> None:
        await ack()

    app.command("/pagamento")(ack_only)
    app.view("payment-request")(ack_only)
    app.action("payment-approve")(ack_only)

    async def events(request: web.Request) -> web.StreamResponse:
        from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request

        return await to_aiohttp_response(await app.async_dispatch(await to_bolt_request(request)))

    web_app = web.Application()
    web_app.router.add_post("/slack/events", events)
    return web_app


Settle = Callable[[float], Awaitable[bool]] | None
BodyFactory = Callable[[int], str]


async def measure(
    base_url: str, make_body: BodyFactory, *, count: int, rate: float | None, settle: Settle = None
) -> list[float]:
    """Ack latency (ms) of ``count`` interactions, sent at ``rate`` per second or all at once."""
    latencies: list[float] = []
    failures: list[int] = []
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:

        async def one(number: int) -> None:
            body = make_body(number)
            headers = {"Content-Type": "application/x-www-form-urlencoded", **payloads.sign(body)}
            started = time.perf_counter()
            response = await http.post("/slack/events", content=body, headers=headers)
            latencies.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                failures.append(response.status_code)

        await one(count)  # warm-up: first auth.test, connection set-up
        latencies.clear()
        tasks = []
        start = time.perf_counter()
        for i in range(count):
            if rate:  # open-loop arrivals: each request leaves at its slot, whatever the earlier ones do
                await asyncio.sleep(max(0.0, i / rate - (time.perf_counter() - start)))
            tasks.append(asyncio.create_task(one(i)))
        await asyncio.gather(*tasks)
        # The work each ack started (DB writes, Slack calls) must not spill into the next figure.
        if settle is not None:
            await settle(600)
    measure.unacknowledged = len(failures)  # type: ignore[attr-defined]  # a missed 3-second ack (404)
    return latencies


def summary(latencies: list[float]) -> dict[str, float]:
    ordered = sorted(latencies)
    return {
        "p50_ms": round(statistics.median(ordered), 2),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 2),
        "max_ms": round(ordered[-1], 2),
    }


def command_bodies(slack: LocalSlack) -> BodyFactory:
    return lambda i: payloads.slash_command("/pagamento", user_id="U0REQ", trigger_id=slack.new_trigger_id())


def submission_bodies(today: date, tag: str) -> BodyFactory:
    """A valid request modal submitted by the requester, each from its own modal (a new view id, a new request)."""
    modal = build_request_modal(locale="pt_BR", today=today).to_dict()

    def body(i: int) -> str:
        answers = {
            "description": f"Insumos {tag}-{i}",
            "vendor_name": "Moinho Anaconda Ltda",
            "amount": f"{100 + i},{i % 100:02d}",
            "competence_date": today.isoformat(),
            "due_date": (today + timedelta(days=10)).isoformat(),
            "category": "Matéria-Prima",
            "payment_method": "transfer",
        }
        return payloads.view_submission(dict(modal, id=f"V{tag}{i:06d}"), user_id="U0REQ", answers=answers)

    return body


async def click_bodies(deps: Deps, count: int, tag: str) -> BodyFactory:
    """``count`` + 1 pending requests, and the approver's click on each one's Aprovar button."""
    messages = []
    for i in range(count + 1):
        draft = RequestDraft(
            description=f"Clique {tag}-{i}",
            vendor_name="Papelaria Central ME",
            amount=Decimal("50.00") + i,
            competence_date=deps.clock.today(),
            due_date=deps.clock.today() + timedelta(days=5),
            category="Material de Escritório",
            payment_method=PaymentMethod.PIX,
        )
        submitted = await flows.submit_request(
            deps.session_factory,
            clock=deps.clock,
            team_id=payloads.TEAM_ID,
            requester_id="U0REQ",
            submission_key=f"click-{tag}-{i}",
            draft=draft,
            steps=[PlannedStep(name="Financeiro", approvers=("U0MGR",))],
        )
        request = submitted.request
        text, blocks = build_approval_message(request, request.steps[0], locale="pt_BR", tz=deps.settings.timezone)
        messages.append({"ts": f"1.{i}", "channel": "D0MGR", "text": text, "blocks": [b.to_dict() for b in blocks]})
    return lambda i: payloads.block_actions(
        messages[i], action_id="payment-approve", user_id="U0MGR", trigger_id=f"{i}.1.bench"
    )


async def run(count: int, rate: float) -> dict[str, Any]:
    results: dict[str, Any] = {"count": count, "rate_per_s": rate}
    with tempfile.TemporaryDirectory() as tmp:
        engine = create_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
        async with engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
        async with LocalSlack() as slack:
            slack.add_user("U0REQ", locale="pt-BR")
            slack.add_user("U0MGR", locale="pt-BR")
            clock = SystemClock()
            settings = Settings(
                slack_bot_token=slack.bot_token,
                slack_signing_secret=payloads.SIGNING_SECRET,
                slack_api_url=slack.api_url,
            )
            stack = AsyncExitStack()
            assembly = await assemble(
                stack, settings, POLICY, session_factory=create_session_factory(engine), clock=clock
            )
            deps, settle = assembly.deps, assembly.listeners.settle
            aprova_runner, aprova_url = await serve(assembly.web_app)
            bare_runner, bare_url = await serve(bare_bolt_app(slack))
            try:
                for kind in ("slash_command", "view_submission", "button_click"):
                    for mode, mode_rate in (("steady", rate), ("burst", None)):
                        if kind == "slash_command":
                            aprova_bodies = bare_bodies = command_bodies(slack)
                        elif kind == "view_submission":
                            aprova_bodies = submission_bodies(clock.today(), f"A{mode}")
                            bare_bodies = submission_bodies(clock.today(), f"B{mode}")
                        else:
                            aprova_bodies = await click_bodies(deps, count, mode)
                            bare_bodies = aprova_bodies
                        bare = summary(await measure(bare_url, bare_bodies, count=count, rate=mode_rate))
                        aprova = summary(
                            await measure(aprova_url, aprova_bodies, count=count, rate=mode_rate, settle=settle)
                        )
                        aprova["unacknowledged"] = measure.unacknowledged  # type: ignore[attr-defined]
                        results[f"{kind}_ack_{mode}"] = {
                            "aprova": aprova,
                            "bare_bolt": bare,
                            "p99_ratio_to_bare": round(aprova["p99_ms"] / bare["p99_ms"], 2),
                            "p50_ratio_to_bare": round(aprova["p50_ms"] / bare["p50_ms"], 2),
                        }
                # Where modal submissions (each a stored request, a tracking message and approvers' DMs) saturate.
                sweep = {}
                for sweep_rate in (10.0, 20.0, 40.0, 60.0):
                    bodies = submission_bodies(clock.today(), f"S{int(sweep_rate)}")
                    found = summary(await measure(aprova_url, bodies, count=count, rate=sweep_rate, settle=settle))
                    found["unacknowledged"] = measure.unacknowledged  # type: ignore[attr-defined]
                    sweep[f"{int(sweep_rate)}_per_s"] = found
                results["view_submission_rate_sweep"] = sweep
            finally:
                await aprova_runner.cleanup()
                await bare_runner.cleanup()
                await stack.aclose()
        await engine.dispose()
    # The bench process holds the app, LocalSlack and the load generator: an upper bound for the app alone.
    results["peak_rss_mib_bench_process"] = peak_rss_mib()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--count", type=int, default=500, help="slash commands per ack measurement")
    parser.add_argument("--rate", type=float, default=100.0, help="steady rate, interactions per second")
    parser.add_argument("--payables", type=int, default=200, help="approved requests to drain")
    parser.add_argument("--only", choices=["ack", "drain", "scale"], help="run one part only")
    parser.add_argument(
        "--postgres",
        default=os.environ.get("APROVA_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"),
        help="a PostgreSQL database to create the scale-out databases from",
    )
    args = parser.parse_args()
    report: dict[str, Any] = {}
    if args.only in (None, "ack"):
        report["ack"] = asyncio.run(run(args.count, args.rate))
    if args.only in (None, "drain"):
        report["posting_drain"] = asyncio.run(run_drain(args.payables))
    if args.only in (None, "scale"):
        report["scale_out_postgresql"] = asyncio.run(run_scale_out(args.payables, args.postgres))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
