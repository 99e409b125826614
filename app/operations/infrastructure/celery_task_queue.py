from __future__ import annotations

import asyncio
from typing import Any

from celery import Celery


class CeleryTaskQueue:
    def __init__(self, celery: Celery) -> None:
        self._celery = celery

    async def send(self, task_name: str, kwargs: dict[str, Any]) -> str:
        # kombu publishes with blocking I/O: off the event loop.
        result = await asyncio.to_thread(self._celery.send_task, task_name, kwargs=kwargs)
        return str(result.id)
