"""Alembic environment (async). The URL comes from APP_DB_URL unless the caller set one."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import Connection, pool, text
from sqlalchemy.ext.asyncio import create_async_engine

from app.bootstrap.mapping import map_all
from app.bootstrap.settings import DatabaseSettings, load_section
from app.shared.infrastructure.database import metadata

config = context.config
# A constant of this project's own: "migrate" and a newline, in ASCII.
_LOCK_KEY = 0x6D6967726174650A
map_all()
target_metadata = metadata


def _url() -> str:
    return config.get_main_option("sqlalchemy.url") or load_section(DatabaseSettings).url


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        compare_server_default=True,
        transaction_per_migration=True,
    )


def _run_sync(connection: Connection) -> None:
    _configure(connection)
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    engine = create_async_engine(_url(), poolclass=pool.NullPool)
    try:
        async with engine.connect() as connection:
            # Two runs at once (a retried Job, two releases rolling out) take turns: the second
            # waits here, then finds nothing left to do. A session lock: it outlives the
            # migrations' own transactions and ends with the connection.
            await connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _LOCK_KEY})
            await connection.commit()
            await connection.run_sync(_run_sync)
    finally:
        await engine.dispose()


def run_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    # A caller (tests, pytest-alembic) may hand over an open connection.
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_sync(connection)
        return
    asyncio.run(_run_async())


if context.is_offline_mode():
    run_offline()
else:
    run_online()
