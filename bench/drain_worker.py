"""One posting worker in its own process, for the scale-out measurement (``python -m bench.drain_worker``).

Configured from the environment like the app (``DATABASE_URL``, ``CONTAAZUL_*``, ``APROVA_ENCRYPTION_KEY``). It
connects, waits until the file ``BENCH_GO`` exists (so process start-up is not measured), drains the outbox until
nothing is pending or running, and prints its peak memory (RSS, MiB) as JSON.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

from sqlalchemy import func, select

from bench.memory import peak_rss_mib
from ledger import db
from ledger.clock import SystemClock
from ledger.contaazul.connector import ContaAzul
from ledger.contaazul.crypto import TokenCipher
from ledger.contaazul.oauth import OAuthConfig
from ledger.models import Posting
from ledger.outbox import PostingStatus, PostingWorker


async def main() -> None:
    engine = db.create_engine(os.environ["DATABASE_URL"])
    session_factory = db.create_session_factory(engine)
    books = ContaAzul(
        config=OAuthConfig(
            client_id=os.environ["CONTAAZUL_CLIENT_ID"],
            client_secret=os.environ["CONTAAZUL_CLIENT_SECRET"],
            auth_url=os.environ["CONTAAZUL_AUTH_URL"],
            api_url=os.environ["CONTAAZUL_API_URL"],
            redirect_uri="http://127.0.0.1/contaazul/oauth/callback",
        ),
        session_factory=session_factory,
        clock=SystemClock(),
        cipher=TokenCipher(os.environ["APROVA_ENCRYPTION_KEY"]),
        rate_limits=(
            int(os.environ.get("CONTAAZUL_RATE_PER_SECOND", "10")),
            int(os.environ.get("CONTAAZUL_RATE_PER_MINUTE", "600")),
        ),
    )
    worker = PostingWorker(session_factory, clock=books.clock, books=books, owner=os.environ["BENCH_OWNER"])
    go = Path(os.environ["BENCH_GO"])
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
