"""Publishes outbox messages as Celery tasks: one task per (event, handler).

Each handler gets its own message, so one handler's retries never repeat another's side effect.
Publishing is blocking kombu I/O, so a batch runs in a worker thread with one producer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from celery import Celery
from opentelemetry import context, propagate
from structlog.stdlib import get_logger

from app.shared.infrastructure.outbox_relay import OutboxMessage
from app.shared.infrastructure.redis import RedisErrors

_log = get_logger(__name__)


def envelope(message: OutboxMessage) -> dict[str, Any]:
    """What a handler task receives (JSON): the event's identity and its payload."""
    return {
        "event_id": str(message.event_id),
        "event_type": message.event_type,
        "aggregate_type": message.aggregate_type,
        "aggregate_id": str(message.aggregate_id),
        "occurred_at": message.occurred_at.isoformat(),
        "payload": message.payload,
    }


class CeleryEventPublisher:
    def __init__(
        self,
        celery: Celery,
        handlers: Mapping[str, Sequence[str]],
        *,
        timeout: float,
    ) -> None:
        self._celery = celery
        self._handlers = handlers
        self._timeout = timeout
        self._errors = RedisErrors("broker")

    async def __call__(self, messages: Sequence[OutboxMessage]) -> int:
        return await asyncio.to_thread(self._publish, messages)

    def _publish(self, messages: Sequence[OutboxMessage]) -> int:
        """How many messages (a prefix of the batch) reached the broker."""
        published = 0
        try:
            with self._celery.producer_or_acquire() as producer:
                for message in messages:
                    self._send(producer, message)
                    published += 1
        except Exception:  # noqa: BLE001 - the rest stays in the outbox for the next sweep
            self._errors.count()
            _log.warning("celery_publish_failed", published=published, exc_info=True)
        return published

    def _send(self, producer: Any, message: OutboxMessage) -> None:  # noqa: ANN401 - kombu
        # The request's trace context travels with the task, so its spans join the request's
        # trace; the request id travels in the headers too.
        token = context.attach(propagate.extract(message.headers))
        try:
            for task in self._handlers.get(message.event_type, ()):
                self._celery.send_task(
                    task,
                    kwargs={"event": envelope(message)},
                    producer=producer,
                    headers=dict(message.headers),
                    retry=True,
                    retry_policy={"max_retries": 1, "interval_start": 0.1},
                    timeout=self._timeout,
                )
        finally:
            context.detach(token)
