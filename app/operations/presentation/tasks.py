"""Turns tasks that failed for good into dead letters (the worker side of operations)."""

from __future__ import annotations

from typing import Any

from celery.signals import task_failure
from dishka import AsyncContainer
from prometheus_client import Counter
from structlog.stdlib import get_logger

from app.operations.application.commands.record_dead_letter import RecordDeadLetter
from app.operations.application.ports.dead_letters import FailedTask
from app.shared.presentation.tasks import TaskRunner

_log = get_logger(__name__)
DEAD_LETTERS = Counter("celery_dead_letters_total", "Tasks recorded as dead letters.", ["task"])


def record_dead_letters(run: TaskRunner) -> None:
    """task_failure fires once a task has failed for good: a permanent error at once, a
    transient one after its last retry (retries in between fire task_retry instead)."""

    def failed(
        sender: Any = None,  # noqa: ANN401
        task_id: str = "",
        exception: BaseException | None = None,
        kwargs: dict[str, Any] | None = None,
        **_: Any,  # noqa: ANN401
    ) -> None:
        request = getattr(sender, "request", None)
        failed_task = FailedTask(
            task_id=task_id,
            task_name=str(getattr(sender, "name", "unknown")),
            kwargs=dict(kwargs or {}),
            error_type=type(exception).__name__ if exception else "unknown",
            error_message=str(exception) if exception else "",
            retries=int(getattr(request, "retries", 0) or 0),
        )

        async def work(scope: AsyncContainer) -> str:
            return await (await scope.get(RecordDeadLetter))(failed_task)

        try:
            dead_letter_id = run(work)
        except Exception:  # noqa: BLE001 - never let bookkeeping hide the original failure
            _log.exception("dead_letter_not_recorded", task=failed_task.task_name, task_id=task_id)
        else:
            DEAD_LETTERS.labels(failed_task.task_name).inc()
            _log.error(
                "task_dead_lettered",
                task=failed_task.task_name,
                task_id=task_id,
                dead_letter_id=dead_letter_id,
                error=failed_task.error_type,
            )

    task_failure.connect(failed, weak=False)
