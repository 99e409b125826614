"""ReadConnections.fetch (SQL straight through asyncpg) when the server kills its connection:
however the kill lands, the caller sees the connection as lost (a 503 upstream), never a driver
error (a 500), and the next read works on a fresh connection."""

from __future__ import annotations

import asyncio
from collections import Counter

import asyncpg
from sqlalchemy.ext.asyncio import create_async_engine

from app.shared.infrastructure.database import ReadConnections, autocommit
from tests.support.sql import asyncpg_dsn


async def test_a_killed_connection_is_lost_however_the_kill_lands(database_url: str) -> None:
    engine = create_async_engine(database_url, pool_size=1, max_overflow=0)
    reads = ReadConnections(autocommit(engine))
    admin = await asyncpg.connect(asyncpg_dsn(database_url))
    outcomes: Counter[str] = Counter()
    try:
        # The kill's message and the socket's end-of-file are read in separate turns of the loop;
        # yielding 0 to 3 times before the read lands it before, between and after them (the
        # "between" case is asyncpg's InternalClientError, about one try in six).
        for attempt in range(60):
            pid = (await reads.fetch("SELECT pg_backend_pid()"))[0][0]
            await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
            for _ in range(attempt % 4):
                await asyncio.sleep(0)
            try:
                await reads.fetch("SELECT 1")
                outcomes["read"] += 1
            except ConnectionResetError as error:
                outcomes[type(error.__cause__).__name__] += 1
            assert (await reads.fetch("SELECT 1"))[0][0] == 1
    finally:
        await admin.close()
        await engine.dispose()
    assert "read" not in outcomes, outcomes  # a dead connection never answers
    assert sum(outcomes.values()) == 60
