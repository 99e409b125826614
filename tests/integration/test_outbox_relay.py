"""The relay: concurrent relays never double-send and pass over rows another one holds, failures
leave rows for the next sweep and are logged and counted by path; a relayed message carries the
row as recorded (its trace and request id included), in order of recording; the API's fast path
relays a commit's events at once and steps aside after a failure; the purge deletes only events
published longer ago than the retention; an event's payload is stored as JSON strings with UTC
times, and a value JSON cannot hold is refused naming its type."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from enum import Enum

import asyncpg
import pytest
from opentelemetry import context as otel_context
from opentelemetry import trace
from prometheus_client import REGISTRY
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from structlog.testing import CapturingLogger

from app.shared.application.correlation import request_id as current_request_id
from app.shared.domain.events import DomainEvent
from app.shared.infrastructure import outbox_fast_path as fast_path_module
from app.shared.infrastructure import outbox_relay as relay_module
from app.shared.infrastructure.outbox import (
    delete_published_events,
    outbox_backlog,
    write_events,
)
from app.shared.infrastructure.outbox_fast_path import OutboxFastPath
from app.shared.infrastructure.outbox_relay import OutboxMessage, OutboxRelay, RelayIncompleteError
from tests.support.metrics import label_values
from tests.support.sql import sql_execute, sql_value


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


async def _unpublished(database_url: str) -> set[uuid.UUID]:
    rows = await sql_value(
        database_url, "SELECT array_agg(id) FROM outbox_events WHERE published_at IS NULL"
    )
    return set(rows or [])


class RefusingPublisher:
    """A broker that is down: every publish raises."""

    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, _messages: Sequence[OutboxMessage]) -> int:
        self.calls += 1
        raise ConnectionError("broker down")


async def test_the_fast_path_relays_a_commits_events_and_drain_waits_for_it(
    database_url: str, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    ids = await _insert_events(database_url, 3)
    publisher = RecordingPublisher()
    fast_path = OutboxFastPath(OutboxRelay(session_factory, publisher), enabled=True)
    fast_path.submit(ids[:2])
    await fast_path.drain()
    assert publisher.sent == ids[:2]
    assert await _unpublished(database_url) == {ids[2]}


async def test_a_disabled_fast_path_leaves_every_event_to_the_sweep(
    database_url: str, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    ids = await _insert_events(database_url, 2)
    publisher = RecordingPublisher()
    fast_path = OutboxFastPath(OutboxRelay(session_factory, publisher), enabled=False)
    fast_path.submit(ids)
    await fast_path.drain()
    assert publisher.sent == []
    assert await _unpublished(database_url) == set(ids)


async def test_a_failed_fast_path_opens_its_breaker_and_leaves_the_events_to_the_sweep(
    database_url: str,
    session_factory: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ids = await _insert_events(database_url, 2)
    broker = RefusingPublisher()
    logged = CapturingLogger()
    monkeypatch.setattr(fast_path_module, "_log", logged)
    fast_path = OutboxFastPath(OutboxRelay(session_factory, broker), enabled=True)
    fast_path.submit(ids[:1])
    await fast_path.drain()
    assert broker.calls == 1
    assert [(call.method_name, call.args, call.kwargs) for call in logged.calls] == [
        ("warning", ("outbox_fast_path_failed",), {"events": 1, "exc_info": True})
    ]
    fast_path.submit(ids[1:])  # within the breaker's 5 s: not even tried
    await fast_path.drain()
    assert broker.calls == 1
    assert await _unpublished(database_url) == set(ids)


async def test_a_fast_path_cut_short_by_the_broker_opens_its_breaker_too(
    database_url: str, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    ids = await _insert_events(database_url, 3)
    publisher = RecordingPublisher(fail_after=1)  # takes one, then goes away
    fast_path = OutboxFastPath(OutboxRelay(session_factory, publisher), enabled=True)
    fast_path.submit(ids[:2])
    await fast_path.drain()
    fast_path.submit(ids[2:])
    await fast_path.drain()
    assert publisher.sent == ids[:1]
    assert await _unpublished(database_url) == set(ids[1:])


async def test_the_breaker_closes_after_its_time_and_the_next_commit_is_relayed(
    database_url: str, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    ids = await _insert_events(database_url, 2)
    broker = RefusingPublisher()
    fast_path = OutboxFastPath(
        OutboxRelay(session_factory, broker), enabled=True, breaker_seconds=0
    )
    fast_path.submit(ids[:1])
    await fast_path.drain()
    fast_path.submit(ids[1:])  # a breaker of 0 s is closed again at once
    await fast_path.drain()
    assert broker.calls == 2


async def test_events_a_sweep_relayed_first_do_not_open_the_fast_paths_breaker(
    database_url: str, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    ids = await _insert_events(database_url, 2)
    publisher = RecordingPublisher()
    relay = OutboxRelay(session_factory, publisher)
    assert await relay.relay_events(ids[:1]) == 1  # the sweep got there first
    fast_path = OutboxFastPath(relay, enabled=True)
    fast_path.submit(ids[:1])
    await fast_path.drain()
    fast_path.submit(ids[1:])
    await fast_path.drain()
    assert publisher.sent == ids


async def test_a_relayed_event_is_marked_published_once_with_one_attempt(
    database_url: str, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    await _insert_events(database_url, 2)
    relay = OutboxRelay(session_factory, RecordingPublisher())
    assert await relay.relay_pending() == 2
    assert await relay.relay_pending() == 0
    attempts = await sql_value(
        database_url,
        "SELECT array_agg(attempts ORDER BY position) FROM outbox_events"
        " WHERE published_at IS NOT NULL",
    )
    assert attempts == [1, 1]
    assert await _unpublished(database_url) == set()


async def test_the_backlog_counts_unpublished_events_and_the_oldest_ones_wait(
    database_url: str, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    async with session_factory() as session:
        empty = await outbox_backlog(session)
    assert (empty.unpublished, empty.oldest_age_seconds) == (0, 0.0)
    ids = await _insert_events(database_url, 3)
    await sql_execute(
        database_url,
        "UPDATE outbox_events SET recorded_at = now() - interval '90 seconds' WHERE id = $1",
        ids[0],
    )
    await OutboxRelay(session_factory, RecordingPublisher()).relay_events(ids[2:])
    async with session_factory() as session:
        backlog = await outbox_backlog(session)
    assert backlog.unpublished == 2
    assert 90 <= backlog.oldest_age_seconds < 90 + 60


async def test_the_purge_deletes_events_published_before_the_retention_only(
    database_url: str, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    old, recent, unpublished = await _insert_events(database_url, 3)
    for event_id, age in ((old, timedelta(days=8)), (recent, timedelta(days=6))):
        await sql_execute(
            database_url,
            "UPDATE outbox_events SET published_at = now() - $2::interval,"
            " recorded_at = now() - interval '30 days' WHERE id = $1",
            event_id,
            age,
        )
    await sql_execute(
        database_url,
        "UPDATE outbox_events SET recorded_at = now() - interval '30 days' WHERE id = $1",
        unpublished,
    )
    async with session_factory() as session, session.begin():
        assert await delete_published_events(session, timedelta(days=7)) == 1
    left = await sql_value(database_url, "SELECT array_agg(id) FROM outbox_events")
    assert set(left) == {recent, unpublished}


def _relayed(path: str) -> float:
    return REGISTRY.get_sample_value("outbox_events_relayed_total", {"path": path}) or 0.0


def _cut_short(path: str) -> float:
    return REGISTRY.get_sample_value("outbox_relay_failures_total", {"path": path}) or 0.0


async def test_the_sweep_adds_up_its_batches_and_counts_them_by_path(
    database_url: str, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    ids = await _insert_events(database_url, 5)
    sweep, fast = _relayed("sweep"), _relayed("fast")
    relay = OutboxRelay(session_factory, RecordingPublisher(), batch_size=2)
    assert await relay.relay_events(ids[:1]) == 1
    assert await relay.relay_pending() == 4  # batches of 2, 2 and 0
    assert (_relayed("sweep") - sweep, _relayed("fast") - fast) == (4, 1)


async def test_a_batch_cut_short_is_counted_by_path_and_names_what_is_left(
    database_url: str, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    ids = await _insert_events(database_url, 6)
    sweep, fast = _cut_short("sweep"), _cut_short("fast")
    with pytest.raises(RelayIncompleteError) as refused:
        await OutboxRelay(session_factory, RecordingPublisher(fail_after=1)).relay_events(ids[:3])
    assert refused.value.unpublished == 2
    assert str(refused.value) == "2 event(s) left for the sweep"
    assert await OutboxRelay(session_factory, RefusingPublisher()).relay_pending() == 0
    assert (_cut_short("sweep") - sweep, _cut_short("fast") - fast) == (1, 1)


async def test_a_sweep_ends_at_its_first_partial_batch(
    database_url: str, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    """Bounded work: events recorded while the sweep publishes its last, partial batch wait
    for the next sweep instead of keeping this one going."""
    await _insert_events(database_url, 1)
    recorded_meanwhile: list[uuid.UUID] = []

    async def publish(messages: Sequence[OutboxMessage]) -> int:
        if not recorded_meanwhile:
            recorded_meanwhile.extend(await _insert_events(database_url, 1))
        return len(messages)

    assert await OutboxRelay(session_factory, publish, batch_size=10).relay_pending() == 1
    assert await _unpublished(database_url) == set(recorded_meanwhile)


async def test_a_sweep_relays_at_most_a_hundred_batches(
    database_url: str, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    await _insert_events(database_url, 102)
    relay = OutboxRelay(session_factory, RecordingPublisher(), batch_size=1)
    assert await relay.relay_pending() == 100
    assert len(await _unpublished(database_url)) == 2


async def test_the_purge_keeps_an_event_published_exactly_the_retention_ago(
    database_url: str, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    (event_id,) = await _insert_events(database_url, 1)
    async with session_factory() as session, session.begin():
        # now() is the transaction's start: the event's age is exactly seven days.
        await session.execute(
            text("UPDATE outbox_events SET published_at = now() - interval '7 days'")
        )
        assert await delete_published_events(session, timedelta(days=7)) == 0
    assert await sql_value(database_url, "SELECT array_agg(id) FROM outbox_events") == [event_id]


class Mood(Enum):
    CALM = "calm"


@dataclass(frozen=True, kw_only=True)
class SomethingHappened(DomainEvent):
    aggregate_type = "thing"
    amount: Decimal
    other_id: uuid.UUID
    due: datetime
    mood: Mood


@dataclass(frozen=True, kw_only=True)
class OddThingHappened(DomainEvent):
    tags: frozenset[str]


@pytest.mark.usefixtures("server_in_tokyo")
async def test_an_events_payload_is_stored_as_json_strings_and_utc_times(
    session_factory: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    other = uuid.uuid4()
    event = SomethingHappened(
        aggregate_id=uuid.uuid4(),
        occurred_at=datetime(2026, 12, 6, 9, 0, tzinfo=UTC),
        amount=Decimal("12.50"),
        other_id=other,
        due=datetime(2026, 12, 7, 9, 0, tzinfo=timezone(timedelta(hours=-5))),
        mood=Mood.CALM,
    )
    async with session_factory() as session, session.begin():
        assert await write_events(session, [event]) == 1
    payload = await sql_value(database_url, "SELECT payload FROM outbox_events")
    assert json.loads(payload) == {
        "amount": "12.50",
        "other_id": str(other),
        "due": "2026-12-07T14:00:00+00:00",
        "mood": "calm",
    }


async def test_an_event_with_a_value_json_cannot_hold_is_refused_naming_its_type(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    event = OddThingHappened(
        aggregate_id=uuid.uuid4(), occurred_at=datetime.now(UTC), tags=frozenset({"x"})
    )
    async with session_factory() as session:
        with pytest.raises(TypeError, match=r"^frozenset is not serialisable in an event$"):
            await write_events(session, [event])


@dataclass(frozen=True, kw_only=True)
class ParcelShipped(DomainEvent):
    aggregate_type = "parcel"
    carrier: str


async def test_a_relayed_message_carries_the_event_as_recorded_with_its_trace_and_request(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    """What the consumer gets: each field of the row, and the headers that join its work to the
    request's trace and log lines."""
    event = ParcelShipped(
        aggregate_id=uuid.uuid4(), occurred_at=datetime(2026, 12, 6, 9, 0, tzinfo=UTC), carrier="x"
    )
    span = trace.NonRecordingSpan(
        trace.SpanContext(
            trace_id=0x0AF7651916CD43DD8448EB211C80319C,
            span_id=0xB7AD6B7169203331,
            is_remote=False,
            trace_flags=trace.TraceFlags(trace.TraceFlags.SAMPLED),
        )
    )
    attached = otel_context.attach(trace.set_span_in_context(span))
    request = current_request_id.set("req-1")
    try:
        async with session_factory() as session, session.begin():
            await write_events(session, [event])
    finally:
        current_request_id.reset(request)
        otel_context.detach(attached)
    received: list[OutboxMessage] = []

    async def publish(messages: Sequence[OutboxMessage]) -> int:
        received.extend(messages)
        return len(messages)

    assert await OutboxRelay(session_factory, publish).relay_pending() == 1
    assert received == [
        OutboxMessage(
            event_id=event.event_id,
            event_type="ParcelShipped",
            aggregate_type="parcel",
            aggregate_id=event.aggregate_id,
            payload={"carrier": "x"},
            headers={
                "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
                "request_id": "req-1",
            },
            occurred_at=event.occurred_at,
        )
    ]


async def test_a_refused_batch_is_logged_with_its_path_size_and_traceback(
    database_url: str,
    session_factory: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await _insert_events(database_url, 2)
    logged = CapturingLogger()
    monkeypatch.setattr(relay_module, "_log", logged)
    assert await OutboxRelay(session_factory, RefusingPublisher()).relay_pending() == 0
    assert [(call.method_name, call.args, call.kwargs) for call in logged.calls] == [
        ("warning", ("outbox_publish_failed",), {"path": "sweep", "batch": 2, "exc_info": True})
    ]


async def test_a_batch_published_whole_is_not_counted_as_cut_short_and_no_events_is_none(
    database_url: str, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    ids = await _insert_events(database_url, 3)
    sweep, fast = _cut_short("sweep"), _cut_short("fast")
    publisher = RecordingPublisher()
    relay = OutboxRelay(session_factory, publisher)
    assert await relay.relay_events([]) == 0
    assert await relay.relay_events(ids[:1]) == 1
    assert await relay.relay_pending() == 2
    assert (_cut_short("sweep"), _cut_short("fast")) == (sweep, fast)
    assert publisher.sent == ids


async def test_the_sweep_relays_in_order_of_recording_whatever_plan_the_server_picks(
    database_url: str,
) -> None:
    """The unpublished rows' index is in recorded order, but a server may scan the table
    instead (this one is told to), and an updated row moves within the table (PostgreSQL
    writes a new version of it): the order rows are stored in is not the order of recording."""
    ids = await _insert_events(database_url, 3)
    await sql_execute(
        database_url, "UPDATE outbox_events SET attempts = attempts + 1 WHERE id = $1", ids[0]
    )
    scanning = {"enable_indexscan": "off", "enable_bitmapscan": "off"}
    engine = create_async_engine(database_url, connect_args={"server_settings": scanning})
    try:
        publisher = RecordingPublisher()
        assert await OutboxRelay(async_sessionmaker(engine), publisher).relay_pending() == 3
        assert publisher.sent == ids
    finally:
        await engine.dispose()


async def test_a_relay_passes_over_events_another_relay_holds_instead_of_waiting(
    database_url: str,
) -> None:
    """Another relay's transaction holds the first event; this one relays the rest. The relay's
    sessions give up waiting for a lock after ten seconds, so a relay that waited would fail."""
    ids = await _insert_events(database_url, 3)
    engine = create_async_engine(
        database_url, connect_args={"server_settings": {"lock_timeout": "10000"}}
    )
    holder = await asyncpg.connect(database_url.replace("+asyncpg", ""))
    try:
        transaction = holder.transaction()
        await transaction.start()
        await holder.execute("SELECT id FROM outbox_events WHERE id = $1 FOR UPDATE", ids[0])
        publisher = RecordingPublisher()
        relay = OutboxRelay(async_sessionmaker(engine), publisher)
        assert await relay.relay_pending() == 2
        assert publisher.sent == ids[1:]
        await transaction.rollback()
    finally:
        await holder.close()
        await engine.dispose()


async def test_the_sweep_takes_batches_of_500_unless_told_otherwise(
    database_url: str, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    await _insert_events(database_url, 501)
    batches: list[int] = []

    async def publish(messages: Sequence[OutboxMessage]) -> int:
        batches.append(len(messages))
        return len(messages)

    assert await OutboxRelay(session_factory, publish).relay_pending() == 501
    assert batches == [500, 1]


async def test_the_relay_metrics_have_a_series_for_each_path_and_no_other(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    """Dashboards and alerts select path="fast" and path="sweep"; the relay makes both."""
    OutboxRelay(session_factory, RecordingPublisher())
    assert label_values("outbox_events_relayed", "path") == {"fast", "sweep"}
    assert label_values("outbox_relay_failures", "path") == {"fast", "sweep"}


async def test_a_fast_path_relay_lets_its_task_go_without_an_error_for_the_event_loop(
    database_url: str, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    """A finished relay's task leaves the set drain waits on through its done callback; a
    callback that failed would be reported by the loop (and the task kept for ever)."""
    ids = await _insert_events(database_url, 1)
    loop = asyncio.get_running_loop()
    reported: list[dict[str, object]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: reported.append(context))
    try:
        fast_path = OutboxFastPath(OutboxRelay(session_factory, RecordingPublisher()), enabled=True)
        fast_path.submit(ids)
        await fast_path.drain()  # done callbacks run in order: the set's before gather's
    finally:
        loop.set_exception_handler(previous)
    assert reported == []
    assert await _unpublished(database_url) == set()
