"""Plain-statement writes (``writing_statements``) keep the promises of ``factory.begin()``: one transaction, all or
nothing, and on SQLite the writers of one process take turns."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ledger.db import writing_statements
from ledger.models import ProcessedDelivery, table_of

pytestmark = pytest.mark.anyio

KEYS = table_of(ProcessedDelivery)
NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)


async def stored(session_factory: async_sessionmaker[AsyncSession]) -> list[str]:
    async with session_factory() as session:
        return list((await session.execute(select(KEYS.c.key).order_by(KEYS.c.key))).scalars())


async def test_plain_statements_commit_together_or_not_at_all(session_factory) -> None:
    async with writing_statements(session_factory) as connection:
        await connection.execute(insert(KEYS), [{"key": "a", "received_at": NOW}, {"key": "b", "received_at": NOW}])
    with pytest.raises(RuntimeError):
        async with writing_statements(session_factory) as connection:
            await connection.execute(insert(KEYS), {"key": "c", "received_at": NOW})
            raise RuntimeError("a failure half-way")
    assert await stored(session_factory) == ["a", "b"]


async def test_a_session_factory_of_another_kind_is_refused(engine) -> None:
    with pytest.raises(TypeError):
        writing_statements(async_sessionmaker(engine))


async def test_writers_of_one_process_take_turns_on_sqlite(session_factory, database_url) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("PostgreSQL's writers run side by side")
    first_inside, first_may_leave = asyncio.Event(), asyncio.Event()
    order: list[str] = []

    async def first() -> None:
        async with writing_statements(session_factory) as connection:
            await connection.execute(insert(KEYS), {"key": "first", "received_at": NOW})
            first_inside.set()
            await first_may_leave.wait()
            order.append("first leaves")

    async def second() -> None:
        await first_inside.wait()
        async with session_factory.begin() as session:  # a session writer waits for the same turn
            order.append("second enters")
            count = await session.scalar(select(func.count()).select_from(KEYS))
            await session.execute(insert(KEYS), {"key": "second", "received_at": NOW})
        assert count == 1  # it saw the first one's row: it began after that commit

    tasks = [asyncio.create_task(first()), asyncio.create_task(second())]
    await first_inside.wait()
    for _ in range(50):  # the second writer gets every chance to run
        await asyncio.sleep(0)
    assert order == []
    first_may_leave.set()
    await asyncio.gather(*tasks)
    assert order == ["first leaves", "second enters"]
    assert await stored(session_factory) == ["first", "second"]
