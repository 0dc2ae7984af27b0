"""The one-trip SQLite cursor answers exactly as the stock aiosqlite adapter does."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import create_async_engine

from ledger.db import create_engine

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
