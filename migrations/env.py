"""Alembic environment: async engine, batch mode for SQLite, one migrator at a time on PostgreSQL."""

from __future__ import annotations

import asyncio
import os

from alembic import context
from sqlalchemy import pool, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from ledger.db import normalise_url
from ledger.models import Base

config = context.config
target_metadata = Base.metadata

# An arbitrary constant: instances starting together take turns to migrate.
MIGRATION_LOCK_ID = 0x41_50_52_4F_56_41


def database_url() -> str:
    url = config.attributes.get("database_url") or os.environ.get("DATABASE_URL") or "sqlite:///aprova.db"
    return normalise_url(url).render_as_string(hide_password=False)


def do_run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": MIGRATION_LOCK_ID})
        context.run_migrations()


async def run_async_migrations() -> None:
    engine = create_async_engine(database_url(), poolclass=pool.NullPool)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(do_run_migrations)
    finally:  # also when connecting failed, so no driver thread outlives the event loop
        await engine.dispose()


def run_migrations_offline() -> None:
    context.configure(url=database_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    asyncio.run(run_async_migrations())
