"""What the database pool's metrics cost: a checkout and return through SQLAlchemy's own pool
against the same through ``MeteredPool`` (app/shared/infrastructure/pool_metrics.py).

Real PostgreSQL (TEST_DATABASE_URL, else an embedded server). The metrics run as under gunicorn:
multiprocess mode, values keyed by the pid read once (app/bootstrap/gunicorn_conf.py). Each
cycle is ``async with engine.connect(): pass``: the pool's checkout and return with SQLAlchemy's
connection wrapper around them, no statement, timed in this process's CPU. The two pools run
in alternating rounds so the machine's noise falls on both; the median round of each is
printed, never asserted. Run with ``make bench``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from typing import Any


async def _cycles(engine: Any, count: int) -> float:  # noqa: ANN401 - an AsyncEngine
    """µs of this process's CPU per cycle: no cycle waits for the server (the connections are
    open, and a return without a statement sends no ROLLBACK), and CPU time leaves out the
    time other processes of a busy machine had the core."""
    started = time.process_time()
    for _ in range(count):
        async with engine.connect():
            pass
    return (time.process_time() - started) / count * 1e6


def _writes(count: int) -> tuple[float, float]:
    """µs of CPU per histogram observation and per gauge write, as the pool makes them."""
    from app.shared.infrastructure import pool_metrics  # noqa: PLC0415 - after the env is set

    started = time.process_time()
    for _ in range(count):
        pool_metrics.CHECKOUT_WAIT.observe(0.00002)
    observe = (time.process_time() - started) / count * 1e6
    started = time.process_time()
    for number in range(count):
        pool_metrics.CHECKED_OUT.set(number & 1)
    return observe, (time.process_time() - started) / count * 1e6


async def compare(db_url: str, rounds: int, cycles: int) -> None:
    from sqlalchemy.ext.asyncio import create_async_engine  # noqa: PLC0415
    from sqlalchemy.pool import AsyncAdaptedQueuePool  # noqa: PLC0415

    from app.shared.infrastructure.pool_metrics import MeteredPool  # noqa: PLC0415

    engines = {
        name: create_async_engine(db_url, poolclass=pool, pool_size=10, max_overflow=10)
        for name, pool in (("plain", AsyncAdaptedQueuePool), ("metered", MeteredPool))
    }
    timings: dict[str, list[float]] = {name: [] for name in engines}
    try:
        for engine in engines.values():
            await _cycles(engine, cycles // 10)  # connections open, code warm
        for _ in range(rounds):
            for name, engine in engines.items():
                timings[name].append(await _cycles(engine, cycles))
    finally:
        for engine in engines.values():
            await engine.dispose()
    plain, metered = (statistics.median(timings[name]) for name in ("plain", "metered"))
    observe, gauge = _writes(cycles * 10)
    print(  # noqa: T201
        f"pool checkout + return, CPU, median of {rounds} rounds of {cycles}: "
        f"SQLAlchemy's pool {plain:.1f} µs, MeteredPool {metered:.1f} µs "
        f"(+{metered - plain:.1f} µs); one histogram observation {observe:.2f} µs, "
        f"one gauge write {gauge:.2f} µs (multiprocess mode)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--cycles", type=int, default=5000)
    arguments = parser.parse_args()
    # As gunicorn_conf does, before anything imports prometheus_client.
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="bench-metrics-")
    from prometheus_client import values  # noqa: PLC0415

    pid = os.getpid()
    values.ValueClass = values.MultiProcessValue(process_identifier=lambda: pid)  # type: ignore[no-untyped-call]
    from loadtests.benchmarks.databases import bench_database  # noqa: PLC0415

    with bench_database() as (db_url, _):
        asyncio.run(compare(db_url, arguments.rounds, arguments.cycles))


if __name__ == "__main__":
    main()
