"""Celery task adapters of ordering: the scheduler's side of the order lifecycle."""

from __future__ import annotations

import time
from typing import Any, Final
from uuid import UUID

from celery import Celery
from celery.signals import task_failure
from dishka import AsyncContainer
from structlog.stdlib import get_logger

from app.ordering.application.commands.expire_order import ExpireOrder, ExpireOrderRequest
from app.ordering.application.commands.fail_order_export import (
    FailOrderExport,
    FailOrderExportRequest,
)
from app.ordering.application.commands.roll_up_daily_sales import (
    RollUpDailySales,
    RollUpDailySalesRequest,
)
from app.ordering.application.commands.write_export_chunk import (
    WriteExportChunk,
    WriteExportChunkRequest,
)
from app.ordering.application.queries.find_overdue_orders import (
    FindOverdueOrders,
    FindOverdueOrdersRequest,
)
from app.shared.domain.errors import DomainError
from app.shared.presentation.tasks import TaskRunner, exclusive, retrying

EXPIRE_OVERDUE_ORDERS: Final = "ordering.expire_overdue_orders"
ROLL_UP_DAILY_SALES: Final = "ordering.roll_up_daily_sales"
RUN_ORDER_EXPORT: Final = "ordering.run_order_export"
EXPORTS_QUEUE: Final = "exports"

# Which handler tasks an event type fans out to (read by the outbox relay's publisher).
EVENT_HANDLERS: Final[dict[str, tuple[str, ...]]] = {"OrderExportRequested": (RUN_ORDER_EXPORT,)}
TASK_ROUTES: Final = {RUN_ORDER_EXPORT: {"queue": EXPORTS_QUEUE}}

_log = get_logger(__name__)


def register_ordering_tasks(
    celery: Celery,
    run: TaskRunner,
    *,
    max_retries: int,
    interval_seconds: float,
    rollup_seconds: float,
) -> None:
    @celery.task(name=ROLL_UP_DAILY_SALES, **retrying(max_retries))  # type: ignore[untyped-decorator]
    def roll_up_daily_sales() -> int:
        async def work(scope: AsyncContainer) -> int:
            return await (await scope.get(RollUpDailySales))(RollUpDailySalesRequest())

        return exclusive(run, ROLL_UP_DAILY_SALES, rollup_seconds, lambda: run(work)) or 0

    @celery.task(name=EXPIRE_OVERDUE_ORDERS, **retrying(max_retries))  # type: ignore[untyped-decorator]
    def expire_overdue_orders() -> int:
        return (
            exclusive(run, EXPIRE_OVERDUE_ORDERS, interval_seconds, lambda: _expire_overdue(run))
            or 0
        )


def _expire_overdue(run: TaskRunner) -> int:
    async def overdue(scope: AsyncContainer) -> list[UUID]:
        return await (await scope.get(FindOverdueOrders))(FindOverdueOrdersRequest())

    expired = 0
    for order_id in run(overdue):
        # One transaction per order: one order's conflict (paid meanwhile) stops nothing else.
        async def expire(scope: AsyncContainer, order_id: UUID = order_id) -> None:
            await (await scope.get(ExpireOrder))(ExpireOrderRequest(order_id=order_id))

        try:
            run(expire)
            expired += 1
        except DomainError as error:
            _log.info("order_not_expired", order_id=str(order_id), reason=error.code)
    return expired


def register_export_task(
    celery: Celery,
    run: TaskRunner,
    *,
    max_retries: int,
    slice_seconds: float,
    chunk_pause_seconds: float,
) -> None:
    @celery.task(name=RUN_ORDER_EXPORT, **retrying(max_retries))  # type: ignore[untyped-decorator]
    def run_order_export(event: dict[str, Any]) -> str:
        """Chunks until the export finishes or the slice is used up; then a fresh task carries
        on from the committed position. Retries and redeliveries resume the same way."""
        request = WriteExportChunkRequest(export_id=UUID(event["aggregate_id"]))

        async def step(scope: AsyncContainer) -> bool:
            return (await (await scope.get(WriteExportChunk))(request)).more

        deadline = time.monotonic() + slice_seconds
        while run(step):
            if time.monotonic() >= deadline:
                celery.send_task(RUN_ORDER_EXPORT, kwargs={"event": event})
                return "continued"
            if chunk_pause_seconds:
                time.sleep(chunk_pause_seconds)  # the worker process's own time, not a loop's
        return "finished"

    def failed(
        kwargs: dict[str, Any] | None = None,
        **_: Any,  # noqa: ANN401
    ) -> None:
        # Failed for good (dead-lettered): the status must say so, not "running" for ever.
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

    task_failure.connect(failed, sender=run_order_export, weak=False)
