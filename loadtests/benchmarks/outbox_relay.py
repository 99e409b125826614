"""Outbox relay benchmark: throughput of the sweep and commit-to-broker latency of the fast path.

Real PostgreSQL and a real Redis broker (TEST_DATABASE_URL / TEST_REDIS_URL, else embedded
servers); figures are printed, never asserted. Run with ``make bench``.

- Throughput: N events written in one transaction, then relayed by two concurrent sweeps through
  the real Celery publisher; the broker queue must then hold exactly N messages (none lost,
  none doubled).
- Latency: events committed one by one through the unit of work; the clock runs from just
  before the commit until the message is popped from the broker queue (BLPOP), i.e. commit to
  "a worker could start it".
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

import asyncpg
from redis import Redis as SyncRedis
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from app.bootstrap.embedded import EmbeddedPostgres, EmbeddedRedis
from app.bootstrap.migrations import upgrade
from app.bootstrap.worker.broker import with_database
from app.shared.domain.events import DomainEvent
from app.shared.infrastructure.celery_publisher import CeleryEventPublisher
from app.shared.infrastructure.outbox import write_events
from app.shared.infrastructure.outbox_fast_path import OutboxFastPath
from app.shared.infrastructure.outbox_relay import OutboxRelay

QUEUE = "bench"
TASK = "bench.noop"


@dataclass(frozen=True, kw_only=True)
class BenchEvent(DomainEvent):
    aggregate_type: ClassVar[str] = "bench"
    n: int


def _celery(broker_url: str):  # noqa: ANN202 - celery is untyped
    from celery import Celery  # noqa: PLC0415

    celery = Celery("bench", set_as_current=False)
    celery.conf.update(
        broker_url=broker_url,
        task_serializer="json",
        task_routes={TASK: {"queue": QUEUE}},
        task_create_missing_queues=True,
    )
    return celery


async def _admin(server_url: str, sql: str) -> None:
    connection = await asyncpg.connect(server_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


async def throughput(db_url: str, broker: str, redis: SyncRedis, events: int) -> None:
    engine = create_async_engine(db_url, pool_size=4)
    factory = async_sessionmaker(engine, expire_on_commit=False)
    now = datetime.now(UTC)
    async with factory() as session, session.begin():
        await write_events(
            session,
            [BenchEvent(aggregate_id=uuid.uuid4(), occurred_at=now, n=n) for n in range(events)],
        )
    celery = _celery(broker)
    publisher = CeleryEventPublisher(celery, {"BenchEvent": (TASK,)}, timeout=5)
    relays = [OutboxRelay(factory, publisher, batch_size=500) for _ in range(2)]
    started = time.perf_counter()
    counts = await asyncio.gather(*(relay.relay_pending(max_batches=1000) for relay in relays))
    elapsed = time.perf_counter() - started
    queued = redis.llen(QUEUE)
    print(  # noqa: T201
        f"throughput: {events} events relayed by 2 sweeps ({counts[0]} + {counts[1]}) in "
        f"{elapsed:.2f}s = {events / elapsed:,.0f} events/s; broker queue holds {queued} "
        f"({'none lost or doubled' if queued == events else 'MISMATCH'})"
    )
    redis.delete(QUEUE)
    await engine.dispose()


async def latency(db_url: str, broker: str, redis: SyncRedis, samples: int) -> None:
    engine = create_async_engine(db_url, pool_size=4)
    factory = async_sessionmaker(engine, expire_on_commit=False)
    celery = _celery(broker)
    publisher = CeleryEventPublisher(celery, {"BenchEvent": (TASK,)}, timeout=5)
    fast_path = OutboxFastPath(OutboxRelay(factory, publisher), enabled=True)
    timings: list[float] = []
    for n in range(samples):
        event = BenchEvent(aggregate_id=uuid.uuid4(), occurred_at=datetime.now(UTC), n=n)
        async with factory() as session:
            # What the unit of work does on commit: rows in the transaction, then the fast path.
            await write_events(session, [event])
            started = time.perf_counter()
            await session.commit()
            fast_path.submit([event.event_id])
        popped = await asyncio.to_thread(redis.blpop, [QUEUE], 5)
        if popped is None:
            print(f"sample {n}: message never arrived")  # noqa: T201
            continue
        timings.append((time.perf_counter() - started) * 1000)
    await fast_path.drain()
    timings.sort()
    p95 = timings[int(len(timings) * 0.95) - 1]
    print(  # noqa: T201
        f"latency commit -> broker (fast path), {len(timings)} samples: "
        f"p50 {statistics.median(timings):.1f} ms, p95 {p95:.1f} ms, max {timings[-1]:.1f} ms"
    )
    await engine.dispose()


async def main(events: int, samples: int) -> None:
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
        server_dsn = server_url.render_as_string(hide_password=False)
        await _admin(server_dsn, f'CREATE DATABASE "{name}"')
        db_url = server_url.set(database=name).render_as_string(hide_password=False)
        try:
            await asyncio.to_thread(upgrade, db_url)
            broker = with_database(redis_url, 0) if redis_url.startswith("unix") else redis_url
            redis = SyncRedis.from_url(redis_url)
            redis.delete(QUEUE)
            await throughput(db_url, broker, redis, events)
            await latency(db_url, broker, redis, samples)
        finally:
            await _admin(server_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        for item in reversed(started):
            item.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--samples", type=int, default=200)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.events, arguments.samples))
