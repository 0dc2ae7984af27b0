"""The SQLite driver answers exactly as the stock aiosqlite adapter does, and holds the event loop only briefly."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import create_async_engine

from ledger.db import create_engine, create_session_factory, writing_statements
from ledger.sqlite_driver import CHECKPOINT_EVERY_COMMITS

pytestmark = pytest.mark.anyio


async def run_script(engine) -> list:
    seen: list = []
    async with engine.begin() as connection:
        await connection.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE, n INTEGER)"))
        inserted = await connection.execute(text("INSERT INTO t (name, n) VALUES ('a', 1)"))
        seen.append(inserted.lastrowid)
        await connection.execute(
            text("INSERT INTO t (name, n) VALUES (:name, :n)"), [{"name": "b", "n": 2}, {"name": "c", "n": 3}]
        )
        updated = await connection.execute(text("UPDATE t SET n = n + 10 WHERE n >= 2"))
        seen.append(updated.rowcount)
        returned = await connection.execute(text("INSERT INTO t (name, n) VALUES ('d', 4) RETURNING id, n"))
        seen.append(list(returned.all()))
        rows = await connection.execute(text("SELECT name, n FROM t ORDER BY id"))
        seen.append(list(rows.keys()))
        seen.append([tuple(r) for r in rows.all()])
        seen.append((await connection.execute(text("SELECT n FROM t WHERE name = 'zz'"))).first())
    with pytest.raises(IntegrityError):
        async with engine.begin() as connection:
            await connection.execute(text("INSERT INTO t (name, n) VALUES ('a', 9)"))
    async with engine.connect() as connection:  # the failed transaction left nothing behind
        seen.append((await connection.execute(text("SELECT count(*) FROM t"))).scalar_one())
    return seen


async def test_the_one_trip_cursor_answers_as_the_stock_one(tmp_path):
    ours = create_engine(f"sqlite:///{tmp_path}/ours.db")
    stock = create_async_engine(f"sqlite+aiosqlite:///{tmp_path}/stock.db")
    try:
        expected = await run_script(stock)
        assert await run_script(ours) == expected
        assert expected[1] == 2 and expected[-1] == 4
    finally:
        await ours.dispose()
        await stock.dispose()


class Ticker:
    """Counts event-loop turns: it only advances while nothing holds the loop."""

    def __init__(self) -> None:
        self.turns = 0

    async def run(self) -> None:
        while True:
            self.turns += 1
            await asyncio.sleep(0)


@contextlib.asynccontextmanager
async def ticking() -> AsyncIterator[Ticker]:
    ticker = Ticker()
    task = asyncio.create_task(ticker.run())
    try:
        yield ticker
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


LONG_SELECT = text(
    "SELECT count(*) FROM (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 300000) "
    "SELECT x FROM c)"
)


async def test_a_long_select_leaves_the_event_loop_free_and_answers_in_full(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path}/long.db")
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))  # connected: what follows is the statement alone
            async with ticking() as ticker:
                before = ticker.turns
                count = (await connection.execute(LONG_SELECT)).scalar_one()
                turns = ticker.turns - before
        assert count == 300000
        assert turns > 100  # run inline, the loop would not have turned while SQLite counted
    finally:
        await engine.dispose()


async def test_a_short_statement_runs_without_leaving_the_event_loop(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path}/short.db")
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
            async with ticking() as ticker:
                before = ticker.turns
                for _ in range(20):
                    await connection.execute(text("SELECT 1"))
                turns = ticker.turns - before
        assert turns <= 2  # no hand-off to another thread, so no turn of the loop while waiting
    finally:
        await engine.dispose()


@pytest.mark.parametrize("writer", ["session", "statements"])
async def test_a_writer_waits_for_another_process_lock_without_holding_the_loop(tmp_path, writer):
    path = tmp_path / "locked.db"
    engine = create_engine(f"sqlite:///{path}")
    try:
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE t (n INTEGER)"))
        other = sqlite3.connect(path, isolation_level=None)  # another process's connection, as far as SQLite knows
        other.execute("BEGIN IMMEDIATE")
        other.execute("INSERT INTO t VALUES (1)")

        async def write() -> None:
            sessions = create_session_factory(engine)
            if writer == "session":
                async with sessions.begin() as session:  # BEGIN IMMEDIATE: waits for the lock
                    await session.execute(text("INSERT INTO t VALUES (2)"))
            else:
                async with writing_statements(sessions) as connection:  # the same, without a session
                    await connection.execute(text("INSERT INTO t VALUES (2)"))

        async with ticking() as ticker:
            writing = asyncio.create_task(write())
            while ticker.turns < 200:  # the loop turns while the writer waits for the lock
                await asyncio.sleep(0)
            assert not writing.done()
            other.execute("COMMIT")
            await writing
        other.close()
        async with engine.connect() as connection:
            rows = (await connection.execute(text("SELECT n FROM t ORDER BY n"))).scalars().all()
        assert rows == [1, 2]
    finally:
        await engine.dispose()


async def test_an_interrupted_select_leaves_its_write_transaction_whole(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path}/whole.db")
    sessions = create_session_factory(engine)
    try:
        async with sessions.begin() as session:
            await session.execute(text("CREATE TABLE t (n INTEGER)"))
        async with sessions.begin() as session:
            await session.execute(text("INSERT INTO t VALUES (1)"))
            assert (await session.execute(LONG_SELECT)).scalar_one() == 300000  # interrupted here, run in the thread
            await session.execute(text("INSERT INTO t VALUES (2)"))
        async with sessions() as session:
            assert (await session.execute(text("SELECT n FROM t ORDER BY n"))).scalars().all() == [1, 2]
    finally:
        await engine.dispose()


async def test_the_wal_is_checkpointed_into_the_database_file_every_so_many_commits(tmp_path):
    path = tmp_path / "checkpointed.db"
    engine = create_engine(f"sqlite:///{path}")
    sessions = create_session_factory(engine)
    try:
        async with sessions.begin() as session:
            await session.execute(text("CREATE TABLE t (n INTEGER)"))
        for n in range(CHECKPOINT_EVERY_COMMITS + 10):
            async with sessions.begin() as session:
                await session.execute(text("INSERT INTO t VALUES (:n)"), {"n": n})
        # Read as the database file alone holds it, the WAL ignored: what a checkpoint has copied there.
        in_file = sqlite3.connect(f"file:{path}?immutable=1", uri=True)
        try:
            copied = in_file.execute("SELECT count(*) FROM t").fetchone()[0]
        finally:
            in_file.close()
        assert CHECKPOINT_EVERY_COMMITS - 10 <= copied < CHECKPOINT_EVERY_COMMITS + 10
    finally:
        await engine.dispose()
