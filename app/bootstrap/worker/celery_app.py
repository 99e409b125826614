"""The Celery application: one factory for the worker, beat and the API (which only publishes).

Delivery guarantees, chosen on purpose (docs/11-async-tasks.md):
- acks_late + reject_on_worker_lost: a task is acknowledged after it ran; a worker killed mid-task
  hands it back, so it runs again (handlers are idempotent through the event inbox);
- prefetch 1: a busy worker does not sit on tasks another could run;
- visibility timeout longer than any task: Redis redelivers only what was truly abandoned;
- soft and hard time limits; retries with exponential backoff and jitter for transient errors.
"""

from __future__ import annotations

import time
from typing import Any, Final

from celery import Celery
from celery.signals import before_task_publish

from app.bootstrap.settings import Settings
from app.bootstrap.worker.broker import broker_url, guard_detached_redis_channels
from app.bootstrap.worker.sides import TASK_ROUTES
from app.shared.presentation.background import DEFAULT_QUEUE

# Each task message's header with the time it was sent (Unix seconds): the age of a queue's
# oldest message is then how long the queue makes a task wait (the worker's metrics).
SENT_AT: Final = "sent_at"


def stamp_sent_at(headers: dict[str, Any] | None = None, **_: Any) -> None:  # noqa: ANN401
    """Every message any process sends (the API's relay, a retry, beat, a re-queued dead
    letter) is stamped as it leaves, a retry afresh."""
    if headers is not None:
        headers[SENT_AT] = time.time()


def create_celery(settings: Settings) -> Celery:
    guard_detached_redis_channels()  # a kombu bug that killed the worker on a broker restart
    config = settings.celery
    celery = Celery(settings.app.name, set_as_current=False)
    celery.conf.update(
        broker_url=broker_url(settings),
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=config.publish_timeout,
        broker_transport_options={
            "visibility_timeout": config.visibility_timeout,
            "socket_timeout": config.publish_timeout,
            "socket_connect_timeout": config.publish_timeout,
        },
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        task_ignore_result=True,
        result_backend=None,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_soft_time_limit=config.soft_time_limit,
        task_time_limit=config.time_limit,
        task_create_missing_queues=True,  # QUEUES (sides.py) are declared on first use
        task_default_queue=DEFAULT_QUEUE,
        task_routes=TASK_ROUTES,
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
        worker_send_task_events=False,
        enable_utc=True,
        timezone="UTC",
    )
    # Celery's signals are per process, not per app: connected once, whoever asks first.
    before_task_publish.connect(stamp_sent_at, weak=False, dispatch_uid=SENT_AT)
    return celery
