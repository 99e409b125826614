"""The queues' metrics read from the real broker: how many messages wait in each queue and how
long the oldest has waited, from the time every sender stamps on its messages."""

from __future__ import annotations

import json
import time

from prometheus_client import REGISTRY
from redis.asyncio import Redis

from app.bootstrap.settings import Settings
from app.bootstrap.worker.celery_app import SENT_AT, create_celery
from app.bootstrap.worker.metrics import observe_queues

QUEUE = "notifications"  # no worker runs here: what is sent stays queued


def _sample(name: str, queue: str) -> float:
    value = REGISTRY.get_sample_value(name, {"queue": queue})
    assert value is not None, (name, queue)
    return value


async def test_each_queue_says_how_many_messages_wait_and_how_long_the_oldest_has(
    settings: Settings, redis: Redis
) -> None:
    celery = create_celery(settings)
    sending = time.time()
    celery.send_task("notifications.order_confirmation", kwargs={"event": {}})
    sent = time.time()
    celery.send_task("notifications.order_confirmation", kwargs={"event": {}})
    oldest = await redis.lindex(QUEUE, -1)
    assert oldest is not None
    stamped = json.loads(oldest)["headers"][SENT_AT]
    assert sending <= stamped <= sent

    observing = time.time()
    observe_queues(celery, (QUEUE, "default"))
    observed = time.time()

    assert _sample("celery_queue_length", QUEUE) == 2
    assert observing - sent <= _sample("celery_queue_oldest_task_age_seconds", QUEUE)
    assert _sample("celery_queue_oldest_task_age_seconds", QUEUE) <= observed - sending
    assert _sample("celery_queue_length", "default") == 0
    assert _sample("celery_queue_oldest_task_age_seconds", "default") == 0
    celery.close()


async def test_a_message_without_the_stamp_counts_as_no_wait(
    settings: Settings, redis: Redis
) -> None:
    # What a sender of the version before this one left in the queue.
    await redis.lpush(QUEUE, json.dumps({"body": "", "headers": {"task": "x"}, "properties": {}}))
    celery = create_celery(settings)
    observe_queues(celery, (QUEUE,))
    assert _sample("celery_queue_length", QUEUE) == 1
    assert _sample("celery_queue_oldest_task_age_seconds", QUEUE) == 0
    celery.close()
