"""The inbox on real PostgreSQL: an event's first delivery to a handler is told apart from a
redelivery (each handler keeps its own record) and only a committed claim counts; the purge
deletes records older than the retention only."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from app.shared.infrastructure.inbox import SqlaEventInbox, delete_processed_events
from tests.support.sql import sql_execute, sql_value


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_async_engine(database_url)
    yield async_sessionmaker(engine, expire_on_commit=False)
    await engine.dispose()


async def _deliver(
    sessions: async_sessionmaker[AsyncSession], handler: str, event_id: uuid.UUID
) -> bool:
    async with sessions() as session, session.begin():
        return await SqlaEventInbox(session).first_delivery(handler, event_id)


async def test_the_first_delivery_counts_and_a_redelivery_does_not(
    sessions: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    event_id = uuid.uuid4()
    assert await _deliver(sessions, "notify", event_id) is True
    assert await _deliver(sessions, "notify", event_id) is False
    rows = await sql_value(
        database_url, "SELECT count(*) FROM processed_events WHERE event_id = $1", event_id
    )
    assert rows == 1


async def test_each_handler_and_each_event_has_its_own_first_delivery(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    first, second = uuid.uuid4(), uuid.uuid4()
    assert await _deliver(sessions, "notify", first) is True
    assert await _deliver(sessions, "audit", first) is True
    assert await _deliver(sessions, "notify", second) is True
    assert await _deliver(sessions, "audit", first) is False


async def test_a_rolled_back_delivery_leaves_the_event_to_the_next(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    event_id = uuid.uuid4()
    async with sessions() as session:
        assert await SqlaEventInbox(session).first_delivery("notify", event_id) is True
        await session.rollback()  # the handler failed: its side effect did not happen
    assert await _deliver(sessions, "notify", event_id) is True


async def test_the_purge_deletes_records_older_than_the_retention_only(
    sessions: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    old, recent = uuid.uuid4(), uuid.uuid4()
    await sql_execute(
        database_url,
        "INSERT INTO processed_events (handler, event_id, processed_at) VALUES"
        " ('notify', $1, now() - interval '8 days'), ('notify', $2, now() - interval '6 days')",
        old,
        recent,
    )
    async with sessions() as session, session.begin():
        assert await delete_processed_events(session, timedelta(days=7)) == 1
    left = await sql_value(database_url, "SELECT array_agg(event_id) FROM processed_events")
    assert left == [recent]
    assert await _deliver(sessions, "notify", old) is True  # a delivery that late is new again


async def test_the_purge_keeps_a_record_exactly_the_retention_old(
    sessions: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    event_id = uuid.uuid4()
    async with sessions() as session, session.begin():
        # now() is the transaction's start: the record's age is exactly seven days.
        await session.execute(
            text(
                "INSERT INTO processed_events (handler, event_id, processed_at)"
                " VALUES ('notify', :event_id, now() - interval '7 days')"
            ),
            {"event_id": event_id},
        )
        assert await delete_processed_events(session, timedelta(days=7)) == 0
    left = await sql_value(database_url, "SELECT array_agg(event_id) FROM processed_events")
    assert left == [event_id]
