from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypedDict
from uuid import UUID

from app.shared.application.pagination import Page


@dataclass(frozen=True, slots=True, kw_only=True)
class FailedTask:
    task_id: str
    task_name: str
    kwargs: dict[str, Any]
    error_type: str
    error_message: str
    retries: int


class DeadLetterView(TypedDict):
    id: str
    task_id: str
    task_name: str
    kwargs: dict[str, Any]
    error_type: str
    error_message: str
    retries: int
    failed_at: datetime
    requeued_at: datetime | None
    requeued_task_id: str | None


class DeadLetterStore(Protocol):
    async def record(self, failed: FailedTask, *, at: datetime) -> UUID: ...

    async def get(
        self, dead_letter_id: UUID, *, for_update: bool = False
    ) -> DeadLetterView | None: ...

    async def list(
        self, *, pending_only: bool, limit: int, cursor: str | None
    ) -> Page[DeadLetterView]: ...

    async def mark_requeued(self, dead_letter_id: UUID, *, task_id: str, at: datetime) -> None: ...


class TaskQueue(Protocol):
    async def send(self, task_name: str, kwargs: dict[str, Any]) -> str:
        """Queue the task again; returns the new task id."""
        ...
