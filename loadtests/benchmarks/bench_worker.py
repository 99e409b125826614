"""The Celery worker of the commit-to-handler benchmark (a real prefork worker, run as its own
process). Its one task notes the wall-clock time it started at, in a Redis list the benchmark
reads; both processes run on one machine, so their clocks agree.

Delivery settings are the platform's (acks_late, prefetch 1): the figure is what a handler sees.
"""

from __future__ import annotations

import os
import time
from typing import Any

from celery import Celery
from redis import Redis

STARTED = "bench:handler-started"

app = Celery("bench-worker", set_as_current=False)
app.conf.update(
    broker_url=os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/0"),
    task_serializer="json",
    accept_content=["json"],
    task_ignore_result=True,
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    worker_hijack_root_logger=False,
)
_redis: list[Redis] = []  # one client per pool process, made after the fork


@app.task(name="bench.noop")  # type: ignore[untyped-decorator]
def noop(event: dict[str, Any]) -> None:
    started = time.time()
    if not _redis:
        # The plain Redis URL: the broker's may be kombu's redis+socket:// form (embedded Redis).
        _redis.append(Redis.from_url(os.environ.get("BENCH_REDIS_URL", app.conf.broker_url)))
    _redis[0].rpush(STARTED, f"{event['payload']['n']} {started}")
