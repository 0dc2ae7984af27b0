"""One posting worker in its own process, for the scale-out measurement (``python -m bench.drain_worker``).

Configured from the environment like the app (``DATABASE_URL``, ``CONTAAZUL_*``, ``APROVA_ENCRYPTION_KEY``). It
prints ``ready``, waits until the file ``BENCH_GO`` exists (so process start-up is not measured), drains the outbox
until nothing is pending or running, and prints its peak memory (RSS, MiB) as JSON.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

from sqlalchemy import func, select

from bench.memory import peak_rss_mib
from bot.settings import Settings
from bot.wiring import build_contaazul
from ledger import db
from ledger.clock import SystemClock
from ledger.models import Posting
from ledger.outbox import PostingStatus
from ledger.posting import PostingWorker


async def main() -> None:
    settings = Settings.from_env()
    engine = db.create_engine(settings.database_url)
    session_factory = db.create_session_factory(engine)
    books = build_contaazul(settings, SystemClock(), session_factory)
    assert books is not None, "CONTAAZUL_CLIENT_ID and CONTAAZUL_CLIENT_SECRET must be set"
    worker = PostingWorker(session_factory, clock=books.clock, books=books, owner=os.environ["BENCH_OWNER"])
    go = Path(os.environ["BENCH_GO"])
    print("ready", flush=True)
    while not go.exists():
        await asyncio.sleep(0.01)
    unfinished = Posting.status.in_([PostingStatus.PENDING.value, PostingStatus.RUNNING.value])
    try:
        while True:
            await worker.drain()
            async with session_factory() as session:
                left = await session.scalar(select(func.count()).select_from(Posting).where(unfinished))
            if not left:
                break
            await asyncio.sleep(0.05)  # the rest is leased by the other instance, or due for a retry
    finally:
        await books.aclose()
        await engine.dispose()
    print(json.dumps({"peak_rss_mib": peak_rss_mib()}))


if __name__ == "__main__":
    asyncio.run(main())
