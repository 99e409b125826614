"""The background side of operations: every task that fails for good becomes a dead letter."""

from __future__ import annotations

from typing import Final

from celery import Celery

from app.operations.presentation.tasks import record_dead_letters
from app.shared.presentation.background import BackgroundSide, WorkerOptions
from app.shared.presentation.tasks import TaskRunner


def _register(celery: Celery, run: TaskRunner, options: WorkerOptions) -> None:  # noqa: ARG001
    record_dead_letters(run)  # a task_failure receiver: no task of its own


side: Final = BackgroundSide(context="operations", register=_register)
