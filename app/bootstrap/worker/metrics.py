"""Worker metrics: tasks by name and state (FAILURE counts what became a dead letter), runtimes,
retries, queue lengths and waits, the outbox backlog and the heartbeat, served by the worker's
main process on APP_CELERY_METRICS_PORT.

Pool processes write their samples to PROMETHEUS_MULTIPROC_DIR (set before prometheus_client is
imported, by ``python -m app worker``); the main process serves the merged view.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from celery.signals import task_postrun, task_prerun, task_retry, worker_init
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    multiprocess,
    start_http_server,
)
from prometheus_client.multiprocess import MultiProcessCollector
from structlog.stdlib import get_logger

from app.bootstrap.worker.celery_app import SENT_AT
from app.operations.presentation.tasks import DEAD_LETTERS
from app.shared.infrastructure.redis import RedisErrors

TASKS = Counter("celery_tasks_total", "Tasks finished, by name and state.", ["task", "state"])
RUNTIME = Histogram(
    "celery_task_runtime_seconds",
    "Task run time.",
    ["task"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
RETRIES = Counter("celery_task_retries_total", "Retries scheduled, by task.", ["task"])
QUEUE_LENGTH = Gauge(
    "celery_queue_length", "Messages waiting per queue.", ["queue"], multiprocess_mode="mostrecent"
)
QUEUE_OLDEST_AGE = Gauge(
    "celery_queue_oldest_task_age_seconds",
    "How long the oldest message of each queue has waited (0 when none).",
    ["queue"],
    multiprocess_mode="mostrecent",
)
HEARTBEAT = Gauge(
    "celery_worker_last_heartbeat_timestamp_seconds",
    "When the worker's heartbeat last ran (Unix time); the liveness probe's file has the same.",
    multiprocess_mode="max",
)
OUTBOX_BACKLOG = Gauge(
    "outbox_unpublished_events", "Events not yet relayed.", multiprocess_mode="mostrecent"
)
OUTBOX_OLDEST_AGE = Gauge(
    "outbox_oldest_unpublished_age_seconds",
    "Age of the oldest event not yet relayed (0 when none).",
    multiprocess_mode="mostrecent",
)

_started: dict[str, float] = {}
_log = get_logger(__name__)


def _task_name(sender: Any) -> str:  # noqa: ANN401 - Celery's sender
    return str(getattr(sender, "name", sender))


def install_task_metrics(metrics_port: int) -> None:
    def prerun(task_id: str, **_: Any) -> None:  # noqa: ANN401
        _started[task_id] = time.perf_counter()

    def postrun(sender: Any, task_id: str, state: str | None = None, **_: Any) -> None:  # noqa: ANN401
        started = _started.pop(task_id, None)
        name = _task_name(sender)
        if started is not None:
            RUNTIME.labels(name).observe(time.perf_counter() - started)
        TASKS.labels(name, state or "UNKNOWN").inc()

    def retried(sender: Any, **_: Any) -> None:  # noqa: ANN401
        RETRIES.labels(_task_name(sender)).inc()

    def serve(sender: Any = None, **_: Any) -> None:  # noqa: ANN401 - the WorkController
        if metrics_port <= 0:
            return
        _count_from_zero(getattr(sender, "app", None))
        registry = CollectorRegistry()
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            LiveProcessesCollector(registry)  # type: ignore[no-untyped-call]
        try:
            start_http_server(metrics_port, registry=registry)
        except OSError:  # port taken: run without metrics rather than not at all
            _log.warning("worker_metrics_unavailable", port=metrics_port, exc_info=True)

    task_prerun.connect(prerun, weak=False)
    task_postrun.connect(postrun, weak=False)
    task_retry.connect(retried, weak=False)
    worker_init.connect(serve, weak=False)


def _count_from_zero(celery: Any) -> None:  # noqa: ANN401 - Celery
    """Every task's retries and dead letters from 0: the first one is then an increase."""
    for name in getattr(celery, "tasks", {}):
        if not name.startswith("celery."):
            RETRIES.labels(name)
            DEAD_LETTERS.labels(name)


class LiveProcessesCollector(MultiProcessCollector):
    """The merged view, without the ``live*`` gauges of pool processes that have gone.

    gunicorn's master marks a worker dead when it exits; Celery's main process has no such hook,
    and it replaces a pool process that dies or passes its hard time limit. Left alone, a dead
    process's connections in use would be summed for ever: its files go before each scrape.
    """

    def collect(self) -> Any:  # noqa: ANN401 - prometheus_client's metric families
        for path in Path(self._path).glob("gauge_live*_*.db"):
            pid = int(path.stem.rpartition("_")[2])
            if not _alive(pid):
                multiprocess.mark_process_dead(pid, self._path)  # type: ignore[no-untyped-call]
        return super().collect()  # type: ignore[no-untyped-call]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process now has that pid: ours is gone
        return False
    return True


def observe_queues(celery: Any, queues: tuple[str, ...]) -> None:  # noqa: ANN401 - Celery
    """Queue lengths and waits straight from the broker, in one round trip. The queues are Redis
    lists named after them; kombu pushes on the left and pops on the right, so the last message
    of a list is its oldest, and its ``sent_at`` header says since when it waits."""
    with RedisErrors("broker"), celery.connection_or_acquire() as connection:
        pipe = connection.default_channel.client.pipeline(transaction=False)
        for queue in queues:
            pipe.llen(queue)
            pipe.lindex(queue, -1)
        replies = pipe.execute()
    now = time.time()
    for queue, length, oldest in zip(queues, replies[::2], replies[1::2], strict=True):
        QUEUE_LENGTH.labels(queue).set(length)
        QUEUE_OLDEST_AGE.labels(queue).set(_waited(oldest, now))


def _waited(message: bytes | str | None, now: float) -> float:
    if message is None:
        return 0.0
    try:
        sent_at = float(json.loads(message)["headers"][SENT_AT])
    except (ValueError, KeyError, TypeError):  # sent by a version that did not stamp it
        return 0.0
    return max(0.0, now - sent_at)  # the sender's clock may be a little ahead


def heartbeat() -> None:
    HEARTBEAT.set_to_current_time()


def observe_outbox(unpublished: int, oldest_age_seconds: float) -> None:
    OUTBOX_BACKLOG.set(unpublished)
    OUTBOX_OLDEST_AGE.set(oldest_age_seconds)
