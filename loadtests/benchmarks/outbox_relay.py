"""Outbox relay benchmark: throughput of the sweep and commit-to-broker latency of the fast path.

Real PostgreSQL and a real Redis broker (TEST_DATABASE_URL / TEST_REDIS_URL, else embedded
servers); figures are printed, never asserted. Run with ``make bench``.

- Throughput: N events written in one transaction, then relayed by two concurrent sweeps through
  the real Celery publisher; the broker queue must then hold exactly N messages (none lost,
  none doubled).
- Latency to the broker: events committed one by one through the unit of work; the clock runs
  from just before the commit until the message is popped from the broker queue (BLPOP), i.e.
  commit to "a worker could start it".
- Latency to the handler: the same, with a real prefork Celery worker process consuming the
  queue (loadtests/benchmarks/bench_worker.py); the clock stops when the task's body starts.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

from celery import Celery
from redis import Redis as SyncRedis
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from app.bootstrap.worker.broker import with_database
from app.shared.domain.events import DomainEvent
from app.shared.infrastructure.celery_publisher import CeleryEventPublisher
from app.shared.infrastructure.outbox import write_events
from app.shared.infrastructure.outbox_fast_path import OutboxFastPath
from app.shared.infrastructure.outbox_relay import OutboxRelay
from loadtests.benchmarks.bench_worker import STARTED
from loadtests.benchmarks.databases import bench_database

QUEUE = "bench"
TASK = "bench.noop"


@dataclass(frozen=True, kw_only=True)
class BenchEvent(DomainEvent):
    aggregate_type: ClassVar[str] = "bench"
    n: int


def _celery(broker_url: str) -> Celery:
    celery = Celery("bench", set_as_current=False)
    celery.conf.update(
        broker_url=broker_url,
        task_serializer="json",
        task_routes={TASK: {"queue": QUEUE}},
        task_create_missing_queues=True,
    )
    return celery


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
    print(  # noqa: T201
        f"latency commit -> broker (fast path), {len(timings)} samples: {_percentiles(timings)}"
    )
    await engine.dispose()


def _percentiles(timings: list[float]) -> str:
    timings = sorted(timings)
    p95 = timings[int(len(timings) * 0.95) - 1]
    return f"p50 {statistics.median(timings):.1f} ms, p95 {p95:.1f} ms, max {timings[-1]:.1f} ms"


def _start_worker(broker: str, redis_url: str, log: Path) -> subprocess.Popen[bytes]:
    command = [
        sys.executable, "-m", "celery", "-A", "loadtests.benchmarks.bench_worker:app", "worker",
        "--queues", QUEUE, "--pool", "prefork", "--concurrency", "2", "--loglevel", "INFO",
        "--without-gossip", "--without-mingle", "--without-heartbeat",
    ]  # fmt: skip
    with log.open("wb") as output:
        worker = subprocess.Popen(  # noqa: S603 - our own module
            command,
            env={**os.environ, "BENCH_BROKER_URL": broker, "BENCH_REDIS_URL": redis_url},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while b"ready." not in log.read_bytes():
        if worker.poll() is not None or time.monotonic() > deadline:
            worker.kill()
            raise RuntimeError(f"bench worker did not start:\n{log.read_text()[-2000:]}")
        time.sleep(0.1)
    return worker


async def handler_latency(
    db_url: str, broker: str, redis_url: str, redis: SyncRedis, samples: int
) -> None:
    engine = create_async_engine(db_url, pool_size=4)
    factory = async_sessionmaker(engine, expire_on_commit=False)
    publisher = CeleryEventPublisher(_celery(broker), {"BenchEvent": (TASK,)}, timeout=5)
    fast_path = OutboxFastPath(OutboxRelay(factory, publisher), enabled=True)
    log = Path(tempfile.mkdtemp(prefix="bench-worker-")) / "worker.log"
    worker = _start_worker(broker, redis_url, log)
    redis.delete(STARTED)
    timings: list[float] = []
    try:
        warm_up = 20  # the pool processes' first tasks open their connections
        for n in range(warm_up + samples):
            event = BenchEvent(aggregate_id=uuid.uuid4(), occurred_at=datetime.now(UTC), n=n)
            async with factory() as session:
                await write_events(session, [event])
                committed = time.time()
                await session.commit()
                fast_path.submit([event.event_id])
            popped = await asyncio.to_thread(redis.blpop, [STARTED], 5)
            if popped is None:
                print(f"sample {n}: the handler never started")  # noqa: T201
                continue
            value = popped[1]
            number, started = (value.decode() if isinstance(value, bytes) else value).split()
            if int(number) == n and n >= warm_up:
                timings.append((float(started) - committed) * 1000)
        await fast_path.drain()
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    print(  # noqa: T201
        f"latency commit -> handler start (fast path, prefork worker), {len(timings)} samples: "
        f"{_percentiles(timings)}"
    )
    await engine.dispose()


async def main(db_url: str, redis_url: str, events: int, samples: int) -> None:
    broker = with_database(redis_url, 0) if redis_url.startswith("unix") else redis_url
    redis = SyncRedis.from_url(redis_url)
    redis.delete(QUEUE)
    await throughput(db_url, broker, redis, events)
    await latency(db_url, broker, redis, samples)
    await handler_latency(db_url, broker, redis_url, redis, samples)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--samples", type=int, default=200)
    arguments = parser.parse_args()
    with bench_database() as (db_url, redis_url):
        asyncio.run(main(db_url, redis_url, arguments.events, arguments.samples))
