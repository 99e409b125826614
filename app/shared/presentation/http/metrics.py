"""RED metrics for HTTP, labelled by route template, correct under several gunicorn workers.

With ``PROMETHEUS_MULTIPROC_DIR`` set (gunicorn.conf.py sets it), each worker writes its samples
to files there and ``/metrics`` aggregates all of them, whichever worker answers the scrape.
"""

from __future__ import annotations

import asyncio
import os
from bisect import bisect_left
from typing import Final

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Scope

UNMATCHED_ROUTE: Final = "<unmatched>"

REQUESTS = Counter("http_requests_total", "HTTP requests handled.", ["method", "route", "status"])
DURATION = Histogram(
    "http_request_duration_seconds",
    "Time from request start to the end of the response.",
    ["method", "route"],
    # 0.3: the latency SLO's threshold (charts/fastapi-platform/files/prometheus-rules.yaml
    # counts requests within 300 ms), which no interpolation between 0.25 and 0.5 could give.
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.3, 0.5, 1.0, 2.5, 5.0, 10.0),
)
IN_PROGRESS = Gauge(
    "http_requests_in_progress",
    "HTTP requests being handled.",
    ["method"],
    multiprocess_mode="livesum",
)

# Any other method is counted as OTHER: a label per made-up method would let clients create
# series without bound.
_METHODS: Final = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def method_label(method: str) -> str:
    return method if method in _METHODS else "OTHER"


class _Tally:
    """A worker's request metrics, counted in memory and written to the metrics above at most a
    second later (``FLUSH_SECONDS``).

    In multiprocess mode every write to a metric is a locked write to a memory-mapped file:
    five a request (the in-progress gauge twice, the counter, the histogram's bucket and sum),
    about 5 µs, a twentieth of the liveness probe's whole cost. Counted here, a request costs a
    few dictionary updates, and a flush writes each label set's sums once. A scrape of this
    process flushes first (metrics_endpoint); another worker's last second shows on the next
    scrape. Only a killed worker loses its unflushed second; a stopping one flushes (lifespan).
    """

    FLUSH_SECONDS: Final = 1.0

    def __init__(self) -> None:
        self._requests: dict[tuple[str, str, int], int] = {}
        # (method, route) -> [sum of durations, then one count per bucket, +Inf last]
        self._durations: dict[tuple[str, str], list[float]] = {}
        self._in_progress: dict[str, int] = {}
        self._changed_in_progress: set[str] = set()
        # The loop a flush is scheduled on: a new loop (tests run several) schedules its own.
        self._flush_loop: asyncio.AbstractEventLoop | None = None

    def started(self, method: str) -> None:
        self._in_progress[method] = self._in_progress.get(method, 0) + 1
        self._changed_in_progress.add(method)
        self._schedule()

    def finished(self, method: str, route: str, status: int, elapsed: float) -> None:
        self._in_progress[method] -= 1
        self._changed_in_progress.add(method)
        key = (method, route, status)
        self._requests[key] = self._requests.get(key, 0) + 1
        durations = self._durations.get((method, route))
        if durations is None:
            durations = self._durations[(method, route)] = [0.0] * (len(_BOUNDS) + 2)
        durations[0] += elapsed
        durations[1 + bisect_left(_BOUNDS, elapsed)] += 1

    def _schedule(self) -> None:
        loop = asyncio.get_running_loop()
        if self._flush_loop is not loop:
            self._flush_loop = loop
            loop.call_later(self.FLUSH_SECONDS, self.flush)

    def flush(self) -> None:
        """Runs on the event loop's thread, as the counting does (no lock needed)."""
        self._flush_loop = None
        requests, self._requests = self._requests, {}
        durations, self._durations = self._durations, {}
        changed, self._changed_in_progress = self._changed_in_progress, set()
        for method in changed:
            IN_PROGRESS.labels(method).set(self._in_progress[method])
        for (method, route, status), count in requests.items():
            REQUESTS.labels(method, route, str(status)).inc(count)
        for (method, route), (total, *counts) in durations.items():
            _add_observations(DURATION.labels(method, route), total, counts)


_BOUNDS: Final = DURATION._upper_bounds[:-1]  # noqa: SLF001 - the bounds given above, +Inf dropped


def _add_observations(child: Histogram, total: float, counts: list[float]) -> None:
    """``observe()`` for many observations at once: what it writes (the sum, and one count in
    the first bucket whose bound holds the value; the exposition accumulates them)."""
    child._sum.inc(total)  # noqa: SLF001 - prometheus_client has no bulk observe
    for bucket, count in zip(child._buckets, counts, strict=True):  # noqa: SLF001
        if count:
            bucket.inc(count)


tally = _Tally()


def flush_request_metrics() -> None:
    """Writes this process's counted requests now (before a scrape, and when it stops)."""
    tally.flush()


def route_template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED_ROUTE


async def metrics_endpoint(_: Request) -> Response:
    flush_request_metrics()
    # Reading the workers' files is blocking I/O: off the event loop.
    return Response(await run_in_threadpool(_exposition), media_type=CONTENT_TYPE_LATEST)


def _exposition() -> bytes:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest(REGISTRY)
