"""The Celery task that writes order exports, chunk by chunk, in slices of time."""

from __future__ import annotations

import time
from typing import Any, Final
from uuid import UUID

from celery import Celery
from celery.signals import task_failure
from dishka import AsyncContainer
from structlog.stdlib import get_logger

from app.ordering.application.commands.fail_order_export import (
    FailOrderExport,
    FailOrderExportRequest,
)
from app.ordering.application.commands.hand_over_order_export import (
    HandOverOrderExport,
    HandOverOrderExportRequest,
)
from app.ordering.application.commands.write_export_chunk import (
    WriteExportChunk,
    WriteExportChunkRequest,
)
from app.shared.presentation.background import WorkerOptions
from app.shared.presentation.tasks import TaskRunner, retrying

RUN_ORDER_EXPORT: Final = "ordering.run_order_export"
EXPORTS_QUEUE: Final = "exports"

_log = get_logger(__name__)


def register_export_task(celery: Celery, run: TaskRunner, options: WorkerOptions) -> None:
    slice_seconds = options.export_slice_seconds
    chunk_pause_seconds = options.export_chunk_pause_seconds

    @celery.task(name=RUN_ORDER_EXPORT, **retrying(options.max_retries))  # type: ignore[untyped-decorator]
    def run_order_export(event: dict[str, Any]) -> str:
        """Chunks until the export finishes or the slice is used up; then a fresh task carries
        on from the committed position (OrderExportContinued, through the outbox). Retries and
        redeliveries resume the same way."""
        export_id = UUID(event["aggregate_id"])
        request = WriteExportChunkRequest(export_id=export_id)

        async def step(scope: AsyncContainer) -> bool:
            return (await (await scope.get(WriteExportChunk))(request)).more

        async def hand_over(scope: AsyncContainer) -> None:
            await (await scope.get(HandOverOrderExport))(
                HandOverOrderExportRequest(export_id=export_id)
            )

        deadline = time.monotonic() + slice_seconds
        while run(step):
            if time.monotonic() >= deadline:
                run(hand_over)
                return "continued"
            if chunk_pause_seconds:
                time.sleep(chunk_pause_seconds)  # the worker process's own time, not a loop's
        return "finished"

    mark_failed_exports(run, run_order_export)


def mark_failed_exports(run: TaskRunner, task: Any) -> None:  # noqa: ANN401 - a Celery task
    """An export task that failed for good (dead-lettered) marks its export failed: the status
    must say so, not "running" for ever."""

    def failed(
        kwargs: dict[str, Any] | None = None,
        **_: Any,  # noqa: ANN401
    ) -> None:
        event = (kwargs or {}).get("event") or {}
        try:
            request = FailOrderExportRequest(export_id=UUID(str(event.get("aggregate_id"))))
        except ValueError:
            return

        async def work(scope: AsyncContainer) -> None:
            await (await scope.get(FailOrderExport))(request)

        try:
            run(work)
        except Exception:  # noqa: BLE001 - the dead letter still records the failure
            _log.exception("export_not_marked_failed", export_id=str(request.export_id))

    task_failure.connect(failed, sender=task, weak=False)
