from __future__ import annotations

import asyncio
from typing import Any

from celery import Celery

from app.shared.infrastructure.redis import RedisErrors


class CeleryTaskQueue:
    def __init__(self, celery: Celery, *, timeout: float) -> None:
        self._celery = celery
        self._timeout = timeout
        self._errors = RedisErrors("broker")

    async def send(self, task_name: str, kwargs: dict[str, Any]) -> str:
        # kombu publishes with blocking I/O: off the event loop, with a bounded wait. It runs
        # before the caller's commit: if that commit then fails, the task may run twice, which
        # idempotent handlers absorb; the other order could lose the task.
        try:
            result = await asyncio.to_thread(
                self._celery.send_task,
                task_name,
                kwargs=kwargs,
                retry=True,
                retry_policy={"max_retries": 1, "interval_start": 0.1},
                timeout=self._timeout,
            )
        except Exception:
            self._errors.count()  # kombu's errors are its own, not the client's
            raise
        return str(result.id)
