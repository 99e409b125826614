"""The database pool's metrics follow the pool: connections in use, above the pool's size, and
the wait for one when none is free."""

from __future__ import annotations

import asyncio

from prometheus_client import REGISTRY
from sqlalchemy.ext.asyncio import AsyncConnection

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
