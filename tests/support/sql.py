"""One-shot SQL on the test database, each call on its own connection (asyncpg, no pool)."""

from __future__ import annotations

from typing import Any

import asyncpg

from tests.support.polling import WITHIN, until


def asyncpg_dsn(database_url: str) -> str:
    """The SQLAlchemy URL of the settings as a DSN asyncpg takes."""
    return database_url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def sql_value(database_url: str, sql: str, *args: Any) -> Any:
    """The first column of the first row (None without rows)."""
    connection = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        return await connection.fetchval(sql, *args)
    finally:
        await connection.close()


async def sql_rows(database_url: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        return list(await connection.fetch(sql, *args))
    finally:
        await connection.close()


async def sql_execute(database_url: str, sql: str, *args: Any) -> str:
    """Run a statement; its status (``UPDATE 1``)."""
    connection = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        return str(await connection.execute(sql, *args))
    finally:
        await connection.close()


async def wait_for_sql(
    database_url: str, sql: str, expected: Any, *args: Any, within: float = WITHIN
) -> Any:
    """Poll a query until it returns ``expected``; fails the test after ``within`` seconds."""
    last: list[Any] = []

    async def check() -> bool:
        last[:] = [await sql_value(database_url, sql, *args)]
        return bool(last[0] == expected)

    await until(check, every=0.1, within=within, what=lambda: f"{sql!r} gave {last}")
    return expected
