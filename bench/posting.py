"""Posting drain: N approved requests → N payables in the Conta Azul sandbox, which enforces 10 requests/s, by
posting workers in their own processes (``bench.drain_worker``), the sandbox in the benchmark's.

Real time throughout (the sandbox and the client use the wall clock), so the drain time can be compared with
the floor the rate limit sets: one create call per payable at 10 calls/s.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import secrets
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from cryptography.fernet import Fernet
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.postgres import fresh_database
from bench.processes import Children
from bot.settings import Settings
from bot.wiring import build_contaazul
from ledger import flows
from ledger.clock import SystemClock
from ledger.contaazul.connector import ContaAzul
from ledger.contaazul.sandbox import Sandbox
from ledger.db import create_engine, create_session_factory
from ledger.domain import PaymentMethod, PlannedStep, RequestDraft
from ledger.models import Base
from ledger.outbox import enqueue_posting

TEAM, ADMIN, REQUESTER, APPROVER = "T0BENCH", "U0ADMIN", "U0REQ", "U0APR"
SANDBOX_CLIENT_ID, SANDBOX_SECRET = "bench", "bench-secret"
VENDORS = ["Moinho Anaconda Ltda", "Papelaria Central ME", "Enel Distribuição São Paulo", "Transportes Rápido Sul"]
CATEGORIES = ["Matéria-Prima", "Material de Escritório", "Energia Elétrica", "Fretes e Carretos"]
WORKER_READY = re.compile(r"^ready$", re.MULTILINE)


def sandbox_books(
    sandbox: Sandbox, engine: AsyncEngine, encryption_key: str, *, clock: SystemClock, route: str = "sync"
) -> ContaAzul:
    """The connector the app builds from its settings, pointed at the sandbox."""
    settings = Settings(
        contaazul_client_id=SANDBOX_CLIENT_ID,
        contaazul_client_secret=SANDBOX_SECRET,
        contaazul_auth_url=sandbox.auth_url,
        contaazul_api_url=sandbox.api_url,
        contaazul_create_route=route,
        encryption_key=encryption_key,
    )
    books = build_contaazul(settings, clock, create_session_factory(engine))
    assert books is not None
    return books


async def connect(books: ContaAzul) -> None:
    """The OAuth dance against the sandbox's auto-consent: authorize redirects straight back with a code."""
    state = await books.begin_connection(team_id=TEAM, user_id=ADMIN)
    binding = secrets.token_urlsafe(32)  # what the browser's cookie would hold
    async with httpx.AsyncClient() as browser:
        answer = await browser.get(await books.open_in_browser(state=state, binding=binding))
    query = parse_qs(urlsplit(answer.headers["location"]).query)
    await books.complete(state=query["state"][0], code=query["code"][0], binding=binding)


async def approve_many(books: ContaAzul, count: int, rng: random.Random) -> None:
    clock = books.clock
    for i in range(count):
        vendor = VENDORS[i % len(VENDORS)]
        draft = RequestDraft(
            description=f"Compra {i + 1}",
            vendor_name=vendor,
            amount=Decimal(rng.randint(1_000, 5_000_000)) / 100,
            competence_date=clock.today(),
            due_date=clock.today() + timedelta(days=15),
            category=CATEGORIES[i % len(CATEGORIES)],
            cost_center="Produção",
            payment_method=PaymentMethod.BOLETO,
        )
        submitted = await flows.submit_request(
            books.session_factory,
            clock=clock,
            team_id=TEAM,
            requester_id=REQUESTER,
            submission_key=f"bench-{i}",
            draft=draft,
            steps=[PlannedStep(name="Financeiro", approvers=(APPROVER,))],
        )
        await flows.decide(
            books.session_factory,
            clock=clock,
            request_id=submitted.request.id,
            step_position=0,
            actor_id=APPROVER,
            approve=True,
            on_final_approval=enqueue_posting,
        )


async def run_drain_instances(
    count: int,
    instances: int,
    *,
    database_url: str,
    workdir: Path,
    rate_limited: bool = True,
    share_limit: bool = False,
) -> dict[str, Any]:
    """``count`` approvals drained by ``instances`` worker processes sharing one database, against the sandbox with
    Conta Azul's limit (10/s, 600/min) or with it lifted (to see what the workers alone scale to)."""
    engine = create_engine(database_url)
    key = Fernet.generate_key().decode()
    sandbox = Sandbox(client_id=SANDBOX_CLIENT_ID, client_secret=SANDBOX_SECRET, auto_consent=True)
    await sandbox.start()
    if not rate_limited:
        sandbox.state.rate_limit_per_second, sandbox.state.rate_limit_per_minute = 100_000, 6_000_000
    try:
        async with engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
        books = sandbox_books(sandbox, engine, key, clock=SystemClock())
        try:
            await connect(books)
            await approve_many(books, count, random.Random(7))
        finally:
            await books.aclose()
        go = workdir / "go"
        go.unlink(missing_ok=True)
        env = {
            "DATABASE_URL": database_url,
            "CONTAAZUL_CLIENT_ID": SANDBOX_CLIENT_ID,
            "CONTAAZUL_CLIENT_SECRET": SANDBOX_SECRET,
            "CONTAAZUL_AUTH_URL": sandbox.auth_url,
            "CONTAAZUL_API_URL": sandbox.api_url,
            "APROVA_ENCRYPTION_KEY": key,
            "BENCH_GO": str(go),
        }
        if share_limit:  # each instance takes its share of the company's limit
            env |= {
                "CONTAAZUL_RATE_PER_SECOND": str(10 // instances),
                "CONTAAZUL_RATE_PER_MINUTE": str(600 // instances),
            }
        async with Children(workdir) as children:
            # Each says when it is connected and waiting; the clock starts at "go".
            workers = await asyncio.gather(
                *(
                    children.serve(
                        f"drain-worker-{number}",
                        ["-m", "bench.drain_worker"],
                        env=env | {"BENCH_OWNER": f"instance-{number}"},
                        ready=WORKER_READY,
                    )
                    for number in range(instances)
                )
            )
            calls_before = len(sandbox.state.api_calls())
            started = time.perf_counter()
            go.touch()
            await asyncio.gather(*(children.finished(w, timeout=max(600.0, count)) for w in workers))
            elapsed = time.perf_counter() - started
        rss = [json.loads(w.log.read_text().strip().splitlines()[-1])["peak_rss_mib"] for w in workers]
        calls = sandbox.state.api_calls()[calls_before:]
        entries = len(sandbox.state.events)
        references = {e.referencia_externa for e in sandbox.state.events.values()}
    finally:
        await sandbox.stop()
        await engine.dispose()
    floor = count / 10  # the limit allows 10 calls/s and a payable needs at least its one create call
    return {
        "instances": instances,
        "conta_azul_rate_limit": "10/s, 600/min" if rate_limited else "lifted",
        "per_instance_limit": f"{10 // instances}/s" if share_limit else "10/s",
        "payables": count,
        "entries_in_sandbox": entries,
        "distinct_references": len(references),
        "drain_seconds": round(elapsed, 2),
        "rate_limit_floor_seconds": floor if rate_limited else None,
        "ratio_to_rate_limit_floor": round(elapsed / floor, 2) if rate_limited else None,
        "contaazul_calls_per_payable": round(len(calls) / count, 3),
        "responses_429": sum(1 for r in calls if r.status == 429),
        "worker_peak_rss_mib": rss,
    }


async def run_drain(count: int, workdir: Path) -> dict[str, Any]:
    """One worker process on SQLite drains ``count`` approvals; the time beside the rate limit's floor."""
    return await run_drain_instances(count, 1, database_url=f"sqlite:///{workdir / 'drain.db'}", workdir=workdir)


async def run_scale_out(count: int, admin_url: str, workdir: Path, *, quick: bool = False) -> dict[str, Any]:
    """One instance, then two, each run on a fresh PostgreSQL database; with Conta Azul's limit and without it (with
    ``quick``, with the limit only)."""

    async def drain(instances: int, *, rate_limited: bool, share_limit: bool = False) -> dict[str, Any] | None:
        async with fresh_database(admin_url) as url:
            if url is None:
                return None
            return await run_drain_instances(
                count, instances, database_url=url, workdir=workdir, rate_limited=rate_limited, share_limit=share_limit
            )

    results: dict[str, Any] = {}
    for limited in (True,) if quick else (True, False):
        one = await drain(1, rate_limited=limited)
        two = await drain(2, rate_limited=limited)
        if one is None or two is None:
            return {"skipped": "PostgreSQL is not reachable"}
        label = "rate_limited" if limited else "limit_lifted"
        results[label] = {
            "one_instance": one,
            "two_instances": two,
            "scale_out_ratio": round(one["drain_seconds"] / two["drain_seconds"], 2),
        }
        if limited and not quick:
            shared = await drain(2, rate_limited=True, share_limit=True)
            if shared is not None:
                results[label]["two_instances_sharing_the_limit"] = shared
                results[label]["scale_out_ratio_sharing"] = round(one["drain_seconds"] / shared["drain_seconds"], 2)
    return results
