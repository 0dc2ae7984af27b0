"""Engine and sessions: SQLite (WAL, busy timeout, serialised writers) by default, PostgreSQL via asyncpg."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import AsyncAdaptedQueuePool

import migrations
from ledger.sqlite_driver import OneTripDbapi

SQLITE_BUSY_TIMEOUT_MS = 15_000


def normalise_url(url: str) -> URL:
    """Accept the URLs people paste (``postgres://``, ``sqlite:///file``) and pick the async drivers."""
    parsed = make_url(url.replace("postgres://", "postgresql://", 1) if url.startswith("postgres://") else url)
    if parsed.get_backend_name() == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite")
    if parsed.get_backend_name() == "postgresql":
        query = dict(parsed.query)
        sslmode = query.pop("sslmode", None)  # libpq spelling; asyncpg calls it ssl
        if sslmode and "ssl" not in query:
            query["ssl"] = sslmode
        return parsed.set(drivername="postgresql+asyncpg", query=query)
    raise ValueError(f"unsupported DATABASE_URL backend: {parsed.get_backend_name()!r} (use sqlite or postgresql)")


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine; on SQLite every transaction starts with ``BEGIN IMMEDIATE`` so writers queue, not fail."""
    parsed = normalise_url(url)
    if parsed.get_backend_name() != "sqlite":
        kwargs.setdefault("pool_pre_ping", True)
        return create_async_engine(parsed, **kwargs)

    # A small pool: opening an SQLite connection (a thread, four pragmas) costs more than most transactions.
    kwargs.setdefault("poolclass", AsyncAdaptedQueuePool)
    kwargs.setdefault("pool_size", 5)
    kwargs.setdefault("max_overflow", 10)
    # Short statements on the event loop, the rest in aiosqlite's thread, waiting there for another process's lock.
    kwargs.setdefault("module", OneTripDbapi(busy_timeout_ms=SQLITE_BUSY_TIMEOUT_MS))
    engine = create_async_engine(parsed, **kwargs)

    @event.listens_for(engine.sync_engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin (see "begin" below).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _begin_immediate(conn: Any) -> None:
        # A deferred transaction that reads then writes fails with SQLITE_BUSY under concurrency; taking the write
        # lock up front makes it wait for busy_timeout instead. Reads need no lock: under WAL they run beside the
        # writer, and making them queue for it (SQLite's busy handler sleeps up to 100 ms a try) stalls everyone.
        conn.exec_driver_sql("BEGIN IMMEDIATE" if _WRITING.get() else "BEGIN")

    return engine


# True while a ``factory.begin()`` block runs: its transaction writes, so it begins IMMEDIATE on SQLite.
_WRITING: ContextVar[bool] = ContextVar("aprova_sqlite_writing", default=False)


class Sessions(async_sessionmaker[AsyncSession]):
    """``factory()`` opens a session for reading; ``factory.begin()`` a transaction that writes and commits.

    Every write in Aprova goes through ``begin()``; on SQLite that is what takes the write lock up front. Writers of
    one process also queue here, in turn, for SQLite's lock: SQLite's own wait sleeps and retries (up to 100 ms a
    try), which under load left the lock free while the next writer slept. Another process's writers still meet
    SQLite's wait.
    """

    def __init__(self, engine: AsyncEngine, **kwargs: Any) -> None:
        super().__init__(engine, **kwargs)
        self._queues_writers = engine.dialect.name == "sqlite"
        self._write_turns: dict[asyncio.AbstractEventLoop, asyncio.Lock] = {}  # a lock serves one event loop

    def _write_turn(self) -> asyncio.Lock | None:
        if not self._queues_writers:
            return None
        loop = asyncio.get_running_loop()
        if loop not in self._write_turns:
            self._write_turns = {loop: asyncio.Lock()}  # a loop gone since (a finished asyncio.run) is dropped
        return self._write_turns[loop]

    @asynccontextmanager
    async def _writing(self) -> AsyncIterator[AsyncSession]:
        nested = _WRITING.get()  # a write inside a write: SQLite's lock decides, as it always did
        lock = None if nested else self._write_turn()
        async with contextlib.AsyncExitStack() as turn:
            if lock is not None:
                try:
                    async with asyncio.timeout(SQLITE_BUSY_TIMEOUT_MS / 1000):
                        await turn.enter_async_context(lock)
                except TimeoutError:
                    pass  # a writer holding on for that long: go on to SQLite's wait, which reports it
            token = _WRITING.set(True)
            try:
                async with super().begin() as session:
                    yield session
            finally:
                _WRITING.reset(token)

    def begin(self) -> Any:  # an async context manager, like async_sessionmaker.begin()
        return self._writing()


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return Sessions(engine, expire_on_commit=False)


def alembic_config(url: str) -> Config:
    """Alembic configuration pointing at the packaged migrations, usable from an installed wheel."""
    config = Config()
    config.set_main_option("script_location", str(Path(migrations.__file__).parent))
    config.attributes["database_url"] = normalise_url(url).render_as_string(hide_password=False)
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Apply migrations (blocking; call it before the event loop starts, or in a thread)."""
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(url), revision)
