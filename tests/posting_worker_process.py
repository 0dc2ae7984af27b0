"""A posting worker in a process of its own, for tests that kill it mid-post.

It is the real :class:`ledger.posting.PostingWorker` and Conta Azul connector, configured from the environment like the
app (``DATABASE_URL``, ``CONTAAZUL_*``, ``APROVA_ENCRYPTION_KEY``), on a clock frozen at ``APROVA_WORKER_NOW`` so it
agrees with the test's clock (and the sandbox's) about token expiry and due times. ``APROVA_WORKER_OWNER`` names its
lease. It drains the outbox once and exits, unless the test kills it first.
"""

from __future__ import annotations

import asyncio
import os
from datetime import datetime

from bot.settings import Settings
from bot.wiring import build_contaazul
from ledger import db
from ledger.clock import FixedClock
from ledger.posting import PostingWorker


async def main() -> None:
    clock = FixedClock(datetime.fromisoformat(os.environ["APROVA_WORKER_NOW"]))

    settings = Settings.from_env()
    engine = db.create_engine(settings.database_url)
    session_factory = db.create_session_factory(engine)
    books = build_contaazul(settings, clock, session_factory, sleep=clock.sleep)
    assert books is not None, "CONTAAZUL_CLIENT_ID and CONTAAZUL_CLIENT_SECRET must be set"
    worker = PostingWorker(session_factory, clock=clock, books=books, owner=os.environ["APROVA_WORKER_OWNER"])
    try:
        await worker.drain()
    finally:
        await books.aclose()
        await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())
