"""Where a benchmark runs: the servers of TEST_DATABASE_URL and TEST_REDIS_URL, else embedded
ones, with a fresh database migrated to head and dropped afterwards."""

from __future__ import annotations

import asyncio
import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from app.bootstrap.devtools.embedded import EmbeddedPostgres, EmbeddedRedis
from app.bootstrap.migrations import upgrade


async def _admin_sql(dsn: str, sql: str) -> None:
    connection = await asyncpg.connect(dsn.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


@contextmanager
def bench_database() -> Iterator[tuple[str, str]]:
    """Yields the database URL (asyncpg) and the Redis URL."""
    started: list[EmbeddedPostgres | EmbeddedRedis] = []
    server = os.environ.get("TEST_DATABASE_URL")
    redis_url = os.environ.get("TEST_REDIS_URL")
    if not server:
        postgres = EmbeddedPostgres(Path(tempfile.mkdtemp(prefix="bench-pg-")) / "pg")
        server = postgres.start()
        started.append(postgres)
    if not redis_url:
        embedded = EmbeddedRedis(Path(tempfile.mkdtemp(prefix="bench-redis-")), persistent=False)
        redis_url = embedded.start()
        started.append(embedded)
    try:
        server_url = make_url(server.replace("postgresql://", "postgresql+asyncpg://", 1))
        name = f"bench_{uuid.uuid4().hex[:8]}"
        admin_dsn = server_url.render_as_string(hide_password=False)
        asyncio.run(_admin_sql(admin_dsn, f'CREATE DATABASE "{name}"'))
        db_url = server_url.set(database=name).render_as_string(hide_password=False)
        try:
            upgrade(db_url)
            yield db_url, redis_url
        finally:
            asyncio.run(_admin_sql(admin_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        for item in reversed(started):
            item.stop()
