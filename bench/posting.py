"""Posting drain: N approved requests → N payables in the Conta Azul sandbox, which enforces 10 requests/s.

Real time throughout (the sandbox and the client use the wall clock), so the drain time can be compared with
the floor the rate limit sets: one create call per payable at 10 calls/s.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import secrets
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from cryptography.fernet import Fernet
from sqlalchemy.ext.asyncio import AsyncEngine

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
from ledger.posting import PostingWorker

TEAM, ADMIN, REQUESTER, APPROVER = "T0BENCH", "U0ADMIN", "U0REQ", "U0APR"
SANDBOX_CLIENT_ID, SANDBOX_SECRET = "bench", "bench-secret"
VENDORS = ["Moinho Anaconda Ltda", "Papelaria Central ME", "Enel Distribuição São Paulo", "Transportes Rápido Sul"]
CATEGORIES = ["Matéria-Prima", "Material de Escritório", "Energia Elétrica", "Fretes e Carretos"]


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


async def run_drain(count: int = 200, route: str = "sync") -> dict[str, Any]:
    """Drain ``count`` approvals; report the time as a ratio to the rate-limit floor and calls per payable."""
    with tempfile.TemporaryDirectory() as tmp:
        engine: AsyncEngine = create_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
        async with engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
        sandbox = Sandbox(client_id=SANDBOX_CLIENT_ID, client_secret=SANDBOX_SECRET, auto_consent=True)
        await sandbox.start()
        clock = SystemClock()
        books = sandbox_books(sandbox, engine, Fernet.generate_key().decode(), clock=clock, route=route)
        try:
            await connect(books)
            await approve_many(books, count, random.Random(7))
            calls_before = len(sandbox.state.api_calls())
            worker = PostingWorker(books.session_factory, clock=clock, books=books, owner="bench")
            started = time.perf_counter()
            results = await worker.drain()
            elapsed = time.perf_counter() - started
            calls = len(sandbox.state.api_calls()) - calls_before
            throttled = sum(1 for r in sandbox.state.api_calls() if r.status == 429)
            entries = len(sandbox.state.events)
        finally:
            await books.aclose()
            await sandbox.stop()
            await engine.dispose()
    posted = sum(1 for r in results if r.outcome == "posted")
    floor = count / 10  # the limit allows 10 calls/s and a payable needs at least its one create call
    return {
        "payables": count,
        "route": route,
        "posted": posted,
        "entries_in_sandbox_per_payable": round(entries / count, 3),
        "drain_seconds": round(elapsed, 2),
        "rate_limit_floor_seconds": floor,
        "ratio_to_floor": round(elapsed / floor, 2),
        "contaazul_calls_per_payable": round(calls / count, 3),
        "responses_429": throttled,
    }


async def _fresh_postgres(admin_url: str) -> str | None:
    """A new PostgreSQL database for one measurement, or None when PostgreSQL is not reachable."""
    import asyncpg

    name = f"aprova_bench_{uuid.uuid4().hex[:12]}"
    try:
        connection = await asyncpg.connect(admin_url, timeout=3)
    except (OSError, asyncpg.PostgresError):
        return None
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return f"{admin_url.rsplit('/', 1)[0]}/{name}"


async def _drop_postgres(admin_url: str, url: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(admin_url, timeout=10)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
    finally:
        await connection.close()


async def run_drain_instances(
    count: int, instances: int, *, admin_url: str, rate_limited: bool, share_limit: bool = False
) -> dict[str, Any] | None:
    """``count`` approvals drained by ``instances`` worker processes sharing one PostgreSQL, against the sandbox
    with Conta Azul's limit (10/s, 600/min) or with it lifted (to see what the workers alone scale to)."""
    url = await _fresh_postgres(admin_url)
    if url is None:
        return None
    engine = create_engine(url)
    key = Fernet.generate_key().decode()
    sandbox = Sandbox(client_id=SANDBOX_CLIENT_ID, client_secret=SANDBOX_SECRET, auto_consent=True)
    await sandbox.start()
    if not rate_limited:
        sandbox.state.rate_limit_per_second, sandbox.state.rate_limit_per_minute = 100_000, 6_000_000
    processes: list[asyncio.subprocess.Process] = []
    try:
        async with engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
        books = sandbox_books(sandbox, engine, key, clock=SystemClock())
        try:
            await connect(books)
            await approve_many(books, count, random.Random(7))
        finally:
            await books.aclose()
        with tempfile.TemporaryDirectory() as tmp:
            go = Path(tmp) / "go"
            env = os.environ | {
                "DATABASE_URL": url,
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
            for number in range(instances):
                processes.append(
                    await asyncio.create_subprocess_exec(
                        sys.executable,
                        "-m",
                        "bench.drain_worker",
                        env=env | {"BENCH_OWNER": f"instance-{number}"},
                        stdout=asyncio.subprocess.PIPE,
                        stderr=asyncio.subprocess.DEVNULL,
                    )
                )
            for process in processes:  # each says when it is connected and waiting; the clock starts at "go"
                assert process.stdout is not None
                await process.stdout.readline()
            calls_before = len(sandbox.state.api_calls())
            started = time.perf_counter()
            go.touch()
            outputs = [await p.communicate() for p in processes]
            elapsed = time.perf_counter() - started
        rss = [json.loads(out.decode().strip().splitlines()[-1])["peak_rss_mib"] for out, _ in outputs if out.strip()]
        calls = [r for r in sandbox.state.api_calls()[calls_before:]]
        entries = len(sandbox.state.events)
        references = {e.referencia_externa for e in sandbox.state.events.values()}
    finally:
        for process in processes:
            if process.returncode is None:
                process.kill()
                await process.wait()
        await sandbox.stop()
        await engine.dispose()
        await _drop_postgres(admin_url, url)
    floor = count / 10
    return {
        "instances": instances,
        "conta_azul_rate_limit": "10/s, 600/min" if rate_limited else "lifted",
        "per_instance_limit": f"{10 // instances}/s" if share_limit else "10/s",
        "payables": count,
        "entries_in_sandbox": entries,
        "distinct_references": len(references),
        "drain_seconds": round(elapsed, 2),
        "ratio_to_rate_limit_floor": round(elapsed / floor, 2) if rate_limited else None,
        "responses_429": sum(1 for r in calls if r.status == 429),
        "worker_peak_rss_mib": rss,
    }


async def run_scale_out(count: int, admin_url: str) -> dict[str, Any]:
    """One instance, then two, on PostgreSQL; with Conta Azul's limit and without it."""
    results: dict[str, Any] = {}
    for limited in (True, False):
        one = await run_drain_instances(count, 1, admin_url=admin_url, rate_limited=limited)
        two = await run_drain_instances(count, 2, admin_url=admin_url, rate_limited=limited)
        if one is None or two is None:
            return {"skipped": "PostgreSQL is not reachable"}
        label = "rate_limited" if limited else "limit_lifted"
        results[label] = {
            "one_instance": one,
            "two_instances": two,
            "scale_out_ratio": round(one["drain_seconds"] / two["drain_seconds"], 2),
        }
        if limited:
            shared = await run_drain_instances(count, 2, admin_url=admin_url, rate_limited=True, share_limit=True)
            if shared is not None:
                results[label]["two_instances_sharing_the_limit"] = shared
                results[label]["scale_out_ratio_sharing"] = round(one["drain_seconds"] / shared["drain_seconds"], 2)
    return results
