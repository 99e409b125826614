"""The database pool's metrics follow the pool: connections in use, above the pool's size, and
the wait for one when none is free; and the pool's standing-queue rule (``pool_queue.py``)."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy.exc
from prometheus_client import REGISTRY
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.shared.infrastructure.database import create_engine


def _value(name: str, **labels: str) -> float:
    value = REGISTRY.get_sample_value(name, labels)
    assert value is not None, name
    return value


def _slow_waits() -> float:
    """Checkouts that took over 100 ms."""
    return _value("db_pool_checkout_wait_seconds_count") - _value(
        "db_pool_checkout_wait_seconds_bucket", le="0.1"
    )


async def test_the_pool_reports_connections_in_use_overflow_and_the_wait_for_one(
    database_url: str,
) -> None:
    engine = create_engine(
        database_url,
        pool_size=2,
        max_overflow=1,
        pool_timeout=5,
        pool_recycle=1800,
        connect_timeout=5,
        statement_timeout_ms=5000,
        application_name="pool-metrics-test",
    )
    waits_before = _value("db_pool_checkout_wait_seconds_count")
    try:
        assert _value("db_pool_size") == 2
        assert _value("db_pool_max_overflow") == 1
        held: list[AsyncConnection] = []
        for expected_overflow in (0, 0, 1):
            connection = await engine.connect()
            held.append(connection)
            assert _value("db_pool_checked_out_connections") == len(held)
            assert _value("db_pool_overflow_connections") == expected_overflow

        # The fourth caller waits until one comes back (opening the others may have been slow
        # too, on a busy machine: only this wait is counted).
        slow_before = _slow_waits()

        async def give_one_back() -> None:
            await asyncio.sleep(0.3)
            await held.pop().close()

        returning = asyncio.create_task(give_one_back())
        async with engine.connect():
            assert _value("db_pool_checked_out_connections") == 3
        await returning
        for connection in held:
            await connection.close()
        assert _value("db_pool_checked_out_connections") == 0
        assert _value("db_pool_checkout_wait_seconds_count") == waits_before + 4
        assert _slow_waits() == slow_before + 1  # the 0.3 s wait
    finally:
        await engine.dispose()


async def test_behind_a_standing_queue_a_caller_gives_up_after_the_busy_timeout(
    database_url: str,
) -> None:
    """One connection, held. The first waiter joins an empty queue and may wait the full 5 s;
    once that queue has stood for over a second, a newcomer gives up after 0.2 s, while the
    first still waits and gets the connection when it comes back."""
    engine = _one_connection_pool(database_url)
    held = await engine.connect()
    first = asyncio.create_task(_take(engine))
    try:
        # The rule's own condition, not a synchronisation: the queue must stand for its interval.
        await asyncio.sleep(type(engine.pool).queue_interval + 0.3)  # type: ignore[attr-defined]
        with pytest.raises(sqlalchemy.exc.TimeoutError, match=r"timeout 0\.20"):
            await engine.connect()
        assert not first.done()  # the first caller keeps its full timeout
        await held.close()
        connection = await first
        assert await connection.scalar(text("select 1")) == 1
        await connection.close()
        # Everyone served: the queue is empty again, so the next caller is not refused.
        async with engine.connect() as connection:
            assert await connection.scalar(text("select 1")) == 1
    finally:
        await held.close()
        if not first.done():
            first.cancel()
        await engine.dispose()


async def _take(engine: AsyncEngine) -> AsyncConnection:
    return await engine.connect()


def _one_connection_pool(database_url: str) -> AsyncEngine:
    """Waits 5 s for its one connection, 0.2 s behind a standing queue."""
    return create_engine(
        database_url,
        pool_size=1,
        max_overflow=0,
        pool_timeout=5,
        pool_busy_timeout=0.2,
        pool_recycle=1800,
        connect_timeout=5,
        statement_timeout_ms=5000,
        application_name="pool-queue-test",
    )


async def test_the_busy_timeout_survives_the_pool_being_replaced(database_url: str) -> None:
    """A lost server replaces the pool (``dispose``): the replacement keeps both timeouts."""
    engine = _one_connection_pool(database_url)
    try:
        old = engine.pool
        old._timeout = 0.2  # type: ignore[attr-defined]  # as a refused caller leaves it
        await engine.dispose(close=False)
        assert engine.pool is not old
        assert engine.pool._timeout == 5  # type: ignore[attr-defined]
        assert type(engine.pool).busy_timeout == 0.2  # type: ignore[attr-defined]
    finally:
        await engine.dispose()
