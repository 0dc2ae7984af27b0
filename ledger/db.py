"""Engine and sessions: SQLite (WAL, busy timeout, serialised writers) by default, PostgreSQL via asyncpg."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import AsyncAdaptedQueuePool

import migrations
from ledger.sqlite_driver import OneTripDbapi

SQLITE_BUSY_TIMEOUT_MS = 15_000
# A PostgreSQL connection idle in the pool for longer than this is pinged before use. Under load connections come back
# within milliseconds and go out unpinged: SQLAlchemy's pre-ping costs three round trips on asyncpg (BEGIN, a query,
# ROLLBACK) per checkout, a fifth of a submission's CPU at 100/s.
PING_AFTER_IDLE_SECONDS = 1.0


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


def create_engine(url: str, *, ping_after_idle: float = PING_AFTER_IDLE_SECONDS, **kwargs: Any) -> AsyncEngine:
    """An async engine; on SQLite every transaction starts with ``BEGIN IMMEDIATE`` so writers queue, not fail; on
    PostgreSQL a connection is checked before use (see ``_check_on_checkout``)."""
    parsed = normalise_url(url)
    if parsed.get_backend_name() != "sqlite":
        engine = create_async_engine(parsed, **kwargs)
        if not kwargs.get("pool_pre_ping"):
            _check_on_checkout(engine, ping_after_idle=ping_after_idle)
        return engine

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


def _check_on_checkout(engine: AsyncEngine, *, ping_after_idle: float) -> None:
    """Hand out only live connections, cheaply: one the server closed (a restart, a killed backend) is seen closed
    by the driver without a round trip; one idle for a while is pinged, as it may have been dropped silently. Either
    is replaced by a new connection (SQLAlchemy retries the checkout on ``DisconnectionError``)."""

    @event.listens_for(engine.sync_engine, "checkin")
    def _returned(_dbapi_connection: Any, record: Any) -> None:
        record.info["returned_at"] = time.monotonic()

    @event.listens_for(engine.sync_engine, "connect")
    def _fresh(_dbapi_connection: Any, record: Any) -> None:
        record.info.pop("returned_at", None)

    @event.listens_for(engine.sync_engine, "checkout")
    def _check(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        returned_at = record.info.get("returned_at")
        if returned_at is None:  # new: just connected
            return
        if dbapi_connection.driver_connection.is_closed():
            raise DisconnectionError("connection closed by the server")
        if time.monotonic() - returned_at >= ping_after_idle:
            try:
                engine.dialect.do_ping(dbapi_connection)
            except Exception as exc:
                raise DisconnectionError("connection did not answer a ping") from exc


# Where a plain (Core) statement runs: a session, or a connection. A hot path runs its statements on a connection
# (``writing_statements``, ``reading_statements``): the session's execute adds the ORM's own path to every statement
# (measured on SQLite, as much again as the rest of a short insert).
Statements = AsyncSession | AsyncConnection


def dialect_of(runner: Statements) -> str:
    return runner.dialect.name if isinstance(runner, AsyncConnection) else runner.get_bind().dialect.name


# True while a ``factory.begin()`` block runs: its transaction writes, so it begins IMMEDIATE on SQLite.
_WRITING: ContextVar[bool] = ContextVar("aprova_sqlite_writing", default=False)


class Sessions(async_sessionmaker[AsyncSession]):
    """``factory()`` opens a session for reading; ``factory.begin()`` a transaction that writes and commits.

    Every write in Aprova goes through ``begin()``; on SQLite that is what takes the write lock up front. Writers of
    one process also queue here, in turn, for SQLite's lock: SQLite's own wait sleeps and retries (up to 100 ms a
    try), which under load left the lock free while the next writer slept. Another process's writers still meet
    SQLite's wait.

    On PostgreSQL a session for reading runs its statements outside a transaction (autocommit): under READ
    COMMITTED each statement sees its own snapshot either way, and the BEGIN and ROLLBACK around them were two of a
    submission's round trips in every read.
    """

    def __init__(self, engine: AsyncEngine, **kwargs: Any) -> None:
        super().__init__(engine, **kwargs)
        self._engine = engine
        self._queues_writers = engine.dialect.name == "sqlite"
        self._write_turns: dict[asyncio.AbstractEventLoop, asyncio.Lock] = {}  # a lock serves one event loop
        self._reading_bind = (
            engine.execution_options(isolation_level="AUTOCOMMIT") if engine.dialect.name == "postgresql" else None
        )

    def __call__(self, **local_kw: Any) -> AsyncSession:
        return super().__call__(**({"bind": self._bind_for_reading()} | local_kw))

    def _bind_for_reading(self) -> AsyncEngine:
        """The autocommit engine on PostgreSQL, except inside a write (whose transaction a read must see)."""
        return self._reading_bind if self._reading_bind is not None and not _WRITING.get() else self._engine

    def _write_turn(self) -> asyncio.Lock | None:
        if not self._queues_writers:
            return None
        loop = asyncio.get_running_loop()
        if loop not in self._write_turns:
            self._write_turns = {loop: asyncio.Lock()}  # a loop gone since (a finished asyncio.run) is dropped
        return self._write_turns[loop]

    @asynccontextmanager
    async def _turn(self) -> AsyncIterator[None]:
        """This process's turn to write (SQLite), and ``_WRITING`` set for the transaction begun in it."""
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
                yield
            finally:
                _WRITING.reset(token)

    @asynccontextmanager
    async def _writing(self) -> AsyncIterator[AsyncSession]:
        async with self._turn(), super().begin() as session:
            yield session

    def begin(self) -> Any:  # an async context manager, like async_sessionmaker.begin()
        return self._writing()

    @asynccontextmanager
    async def statements(self) -> AsyncIterator[AsyncConnection]:
        """A transaction that writes, like ``begin()``, for plain statements only: a connection, no ``Session``
        (whose transaction bookkeeping, measured alone, costs a short write half as much again)."""
        async with self._turn(), self._engine.begin() as connection:
            yield connection

    @asynccontextmanager
    async def reads(self) -> AsyncIterator[AsyncConnection]:
        """Reading, like ``factory()``, with plain statements only: a connection, no ``Session``."""
        async with self._bind_for_reading().connect() as connection:
            yield connection


def writing_statements(
    factory: async_sessionmaker[AsyncSession],
) -> contextlib.AbstractAsyncContextManager[AsyncConnection]:
    """``factory.statements()``, for callers that hold the factory as the sessionmaker it is."""
    return _sessions(factory).statements()


def reading_statements(
    factory: async_sessionmaker[AsyncSession],
) -> contextlib.AbstractAsyncContextManager[AsyncConnection]:
    """``factory.reads()``, for callers that hold the factory as the sessionmaker it is."""
    return _sessions(factory).reads()


def _sessions(factory: async_sessionmaker[AsyncSession]) -> Sessions:
    if not isinstance(factory, Sessions):
        raise TypeError("a session factory made by create_session_factory() is needed")
    return factory


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
