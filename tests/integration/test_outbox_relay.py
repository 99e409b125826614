"""The relay: concurrent relays never double-send, failures leave rows for the next sweep."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from app.shared.infrastructure.outbox_relay import OutboxMessage, OutboxRelay
from tests.support.sql import sql_value


@pytest.fixture
async def session_factory(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_async_engine(database_url, pool_size=4)
    yield async_sessionmaker(engine, expire_on_commit=False)
    await engine.dispose()


async def _insert_events(database_url: str, count: int) -> list[uuid.UUID]:
    ids = [uuid.uuid4() for _ in range(count)]
    now = datetime.now(UTC)
    connection = await asyncpg.connect(database_url.replace("+asyncpg", ""))
    try:
        await connection.executemany(
            "INSERT INTO outbox_events (id, aggregate_type, aggregate_id, event_type, payload,"
            " headers, occurred_at) VALUES ($1, 'order', $2, 'OrderPlaced', $3, '{}', $4)",
            [(event_id, uuid.uuid4(), json.dumps({"n": n}), now) for n, event_id in enumerate(ids)],
        )
    finally:
        await connection.close()
    return ids


class RecordingPublisher:
    def __init__(self, *, fail_after: int | None = None) -> None:
        self.sent: list[uuid.UUID] = []
        self._fail_after = fail_after

    async def __call__(self, messages: Sequence[OutboxMessage]) -> int:
        for count, message in enumerate(messages):
            if self._fail_after is not None and len(self.sent) >= self._fail_after:
                return count  # the broker went away mid-batch
            self.sent.append(message.event_id)
            await asyncio.sleep(0)  # let the other relay run in between
        return len(messages)


async def test_two_concurrent_relays_publish_each_of_1000_events_exactly_once(
    database_url: str, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    ids = await _insert_events(database_url, 1000)
    first, second = RecordingPublisher(), RecordingPublisher()
    relays = [
        OutboxRelay(session_factory, first, batch_size=100),
        OutboxRelay(session_factory, second, batch_size=100),
    ]
    started = time.perf_counter()
    await asyncio.gather(*(relay.relay_pending() for relay in relays))
    elapsed = time.perf_counter() - started
    counts = Counter(first.sent + second.sent)
    assert set(counts) == set(ids)
    assert set(counts.values()) == {1}
    assert first.sent, "both relays took part"
    assert second.sent, "both relays took part"
    unpublished = await sql_value(
        database_url, "SELECT count(*) FROM outbox_events WHERE published_at IS NULL"
    )
    assert unpublished == 0
    print(  # noqa: T201
        f"[relay] 1000 events, 2 relays: {len(first.sent)} + {len(second.sent)}, "
        f"{elapsed:.2f}s ({1000 / elapsed:.0f} events/s, publisher in memory)"
    )


async def test_a_publish_failure_keeps_the_rest_for_the_next_sweep_in_order(
    database_url: str, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    ids = await _insert_events(database_url, 10)
    flaky = RecordingPublisher(fail_after=4)
    assert await OutboxRelay(session_factory, flaky).relay_pending() == 4
    healthy = RecordingPublisher()
    assert await OutboxRelay(session_factory, healthy).relay_pending() == 6
    assert flaky.sent + healthy.sent == ids  # recorded order, nothing lost, nothing twice


async def test_the_fast_path_relays_only_the_named_events(
    database_url: str, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    ids = await _insert_events(database_url, 5)
    publisher = RecordingPublisher()
    relay = OutboxRelay(session_factory, publisher)
    assert await relay.relay_events(ids[:2]) == 2
    assert await relay.relay_events(ids[:2]) == 0  # already published
    assert publisher.sent == ids[:2]
    assert await relay.relay_pending() == 3
