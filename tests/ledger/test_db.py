"""PostgreSQL connections handed out by the pool are live: a connection the server dropped is replaced, not used."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from ledger import db

pytestmark = [pytest.mark.anyio, pytest.mark.postgres]


async def _backend_pid(engine: db.AsyncEngine) -> int:
    async with engine.connect() as connection:
        return int((await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one())


@asynccontextmanager
async def one_connection(url: str, *, ping_after_idle: float) -> AsyncIterator[db.AsyncEngine]:
    """An engine whose pool holds one connection, so each use gets the same one back (or its replacement)."""
    engine = db.create_engine(url, pool_size=1, max_overflow=0, ping_after_idle=ping_after_idle)
    try:
        yield engine
    finally:
        await engine.dispose()


async def _terminate(url: str, pid: int) -> None:
    admin = await asyncpg.connect(url)
    try:
        await admin.execute("SELECT pg_terminate_backend($1)", pid)
    finally:
        await admin.close()


async def test_a_connection_the_server_closed_is_replaced_without_a_ping(fresh_postgres_url: str) -> None:
    async with one_connection(fresh_postgres_url, ping_after_idle=3600) as engine:
        first = await _backend_pid(engine)
        async with engine.connect() as connection:  # the pool's one connection, held to watch it close
            driver = (await connection.get_raw_connection()).driver_connection
        await _terminate(fresh_postgres_url, first)
        for _ in range(1000):  # the driver reads the server's goodbye on the event loop
            if driver.is_closed():
                break
            await asyncio.sleep(0.005)
        assert driver.is_closed()
        assert await _backend_pid(engine) != first


class SilentCut:
    """A TCP relay to PostgreSQL that can drop every connection through it silently, as a dead network or a
    firewall forgetting an idle connection does: the client is not told, and learns only when it next sends."""

    def __init__(self, url: str) -> None:
        self.target = make_url(url)
        self.cut_links: list[asyncio.StreamWriter] = []
        self.links: list[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = []
        self.server: asyncio.Server | None = None

    async def __aenter__(self) -> str:
        self.server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return self.target.set(host="127.0.0.1", port=port).render_as_string(hide_password=False)

    async def __aexit__(self, *_: object) -> None:
        assert self.server is not None
        self.server.close()
        for client, upstream in self.links:
            client.transport.abort()
            upstream.transport.abort()

    def cut(self) -> None:
        for client, upstream in self.links:
            self.cut_links.append(client)
            upstream.transport.abort()
        self.links = []

    async def _relay(self, client_reader: asyncio.StreamReader, client: asyncio.StreamWriter) -> None:
        upstream_reader, upstream = await asyncio.open_connection(self.target.host, self.target.port or 5432)
        self.links.append((client, upstream))

        async def to_server() -> None:
            while data := await client_reader.read(65536):
                if client in self.cut_links:
                    client.transport.abort()  # what a dead link's next write meets: a reset
                    return
                upstream.write(data)

        async def to_client() -> None:
            while data := await upstream_reader.read(65536):
                client.write(data)
            if client not in self.cut_links:
                client.close()

        await asyncio.gather(to_server(), to_client(), return_exceptions=True)


async def test_a_connection_idle_for_a_while_is_pinged_and_replaced_when_dead(fresh_postgres_url: str) -> None:
    relay = SilentCut(fresh_postgres_url)
    async with relay as relayed_url, one_connection(relayed_url, ping_after_idle=0) as engine:
        first = await _backend_pid(engine)
        relay.cut()
        assert await _backend_pid(engine) != first  # the ping met the dead link; a new connection served


async def test_a_connection_back_in_use_at_once_is_trusted_and_a_silent_cut_fails_one_use(
    fresh_postgres_url: str,
) -> None:
    """The price of not pinging a busy connection: the one use that meets the dead link fails (a listener answers
    the person with an error, nothing stored); the pool is then renewed."""
    relay = SilentCut(fresh_postgres_url)
    async with relay as relayed_url, one_connection(relayed_url, ping_after_idle=3600) as engine:
        first = await _backend_pid(engine)
        relay.cut()
        with pytest.raises(DBAPIError) as failed:
            await _backend_pid(engine)
        assert failed.value.connection_invalidated
        assert await _backend_pid(engine) != first


async def test_a_connection_in_steady_use_goes_out_unpinged(fresh_postgres_url: str) -> None:
    async with one_connection(fresh_postgres_url, ping_after_idle=3600) as engine:
        pings = 0
        original = engine.dialect.do_ping

        def counting(dbapi_connection: object) -> bool:
            nonlocal pings
            pings += 1
            return original(dbapi_connection)

        engine.dialect.do_ping = counting  # type: ignore[method-assign]
        first = await _backend_pid(engine)
        for _ in range(5):
            assert await _backend_pid(engine) == first
        assert pings == 0


async def test_reads_run_outside_a_transaction_and_writes_inside_one(fresh_postgres_url: str) -> None:
    """On PostgreSQL a reading session pays no BEGIN and ROLLBACK: each statement is its own transaction."""
    engine = db.create_engine(fresh_postgres_url)
    sessions = db.create_session_factory(engine)
    own_transaction = text("SELECT pg_current_xact_id()::text")
    try:
        async with sessions() as session:
            first, second = [(await session.execute(own_transaction)).scalar_one() for _ in range(2)]
        assert first != second
        async with sessions.begin() as session:
            first, second = [(await session.execute(own_transaction)).scalar_one() for _ in range(2)]
        assert first == second
        # The same with plain statements on a connection, without a session.
        async with db.reading_statements(sessions) as connection:
            first, second = [(await connection.execute(own_transaction)).scalar_one() for _ in range(2)]
        assert first != second
        async with db.writing_statements(sessions) as connection:
            first, second = [(await connection.execute(own_transaction)).scalar_one() for _ in range(2)]
        assert first == second
    finally:
        await engine.dispose()
