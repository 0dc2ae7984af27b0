"""A PostgreSQL database of its own for one measurement, dropped afterwards."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg


@asynccontextmanager
async def fresh_database(admin_url: str) -> AsyncIterator[str | None]:
    """The URL of a new, empty database next to ``admin_url``'s, or None when PostgreSQL is not reachable."""
    name = f"aprova_bench_{uuid.uuid4().hex[:12]}"
    try:
        connection = await asyncpg.connect(admin_url, timeout=3)
    except (OSError, asyncpg.PostgresError):
        yield None
        return
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    try:
        yield f"{admin_url.rsplit('/', 1)[0]}/{name}"
    finally:
        connection = await asyncpg.connect(admin_url, timeout=10)
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await connection.close()
