"""The database pool's saturation and checkout wait, as Prometheus metrics.

``MeteredPool`` is SQLAlchemy's asyncio queue pool with four gauges written when a connection
leaves or comes back, and a histogram of the time ``connect()`` took. Each process has one
engine, so one pool: the gauges are summed over a server's live processes (``livesum``), which
gives its whole capacity and use; a single process's pool running dry shows in the wait.

It also stops callers from queuing behind a standing queue (``pool_queue.py``): with
``busy_timeout`` set, a caller that finds callers waiting for over a second waits that long at
most, not the full pool timeout.
"""

from __future__ import annotations

import time
from typing import Any, cast

from prometheus_client import Gauge, Histogram
from sqlalchemy.pool import (
    AsyncAdaptedQueuePool,
    ConnectionPoolEntry,
    PoolProxiedConnection,
    QueuePool,
)

from app.shared.infrastructure.pool_queue import StandingQueue

POOL_SIZE = Gauge(
    "db_pool_size",
    "Connections the database pools keep open (APP_DB_POOL_SIZE per process).",
    multiprocess_mode="livesum",
)
POOL_MAX_OVERFLOW = Gauge(
    "db_pool_max_overflow",
    "Connections the database pools may open above their size (APP_DB_MAX_OVERFLOW per process).",
    multiprocess_mode="livesum",
)
CHECKED_OUT = Gauge(
    "db_pool_checked_out_connections",
    "Database connections in use (taken from the pool, not yet returned).",
    multiprocess_mode="livesum",
)
OVERFLOW = Gauge(
    "db_pool_overflow_connections",
    "Database connections open above the pool's size.",
    multiprocess_mode="livesum",
)
CHECKOUT_WAIT = Histogram(
    "db_pool_checkout_wait_seconds",
    "Time to get a connection from the pool: a free one, a new one, or the wait for one to come "
    "back (up to APP_DB_POOL_TIMEOUT, then a 503).",
    buckets=(0.0001, 0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)


class MeteredPool(AsyncAdaptedQueuePool):
    """Counts from the pool's own figures at each checkout and return, so nothing can drift.

    Four metric writes a checkout and return together (the histogram's bucket and sum, the
    in-use gauge twice); the overflow gauge is written only when it changes.
    """

    # Off (0) here; ``with_busy_timeout`` makes the subclass an engine uses. SQLAlchemy builds
    # the pool (and, on a lost server, its replacement) from the class, so the setting lives there.
    busy_timeout: float = 0.0
    queue_interval: float = 1.0

    @classmethod
    def with_busy_timeout(cls, seconds: float) -> type[MeteredPool]:
        return cast("type[MeteredPool]", type(cls.__name__, (cls,), {"busy_timeout": seconds}))

    def __init__(self, *args: Any, **kwargs: Any) -> None:  # noqa: ANN401 - SQLAlchemy's own
        super().__init__(*args, **kwargs)
        self._full_timeout = self._timeout
        self._queue = StandingQueue(self.queue_interval)
        self._overflow_seen = -1
        # Also on the pool a disposal (a lost server) creates in this one's place.
        POOL_SIZE.set(self.size())
        POOL_MAX_OVERFLOW.set(max(0, self._max_overflow))

    def connect(self) -> PoolProxiedConnection:
        started = time.perf_counter()
        standing = self._queue.join(started)
        if self.busy_timeout:
            # Read by QueuePool._do_get before anything awaits, so each caller gets its own.
            self._timeout = self.busy_timeout if standing else self._full_timeout
        try:
            return super().connect()
        finally:
            ended = time.perf_counter()
            self._queue.leave(ended)
            CHECKOUT_WAIT.observe(ended - started)
            self._observe()

    def recreate(self) -> QueuePool:
        self._timeout = self._full_timeout  # the replacement is built with this one's settings
        return super().recreate()

    def _do_return_conn(self, record: ConnectionPoolEntry) -> None:
        super()._do_return_conn(record)
        self._observe()

    def _observe(self) -> None:
        CHECKED_OUT.set(self.checkedout())
        # The pool counts its overflow from -size up: above 0 only once every pooled one is open.
        overflow = max(0, self.overflow())
        if overflow != self._overflow_seen:
            self._overflow_seen = overflow
            OVERFLOW.set(overflow)
