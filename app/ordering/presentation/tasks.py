"""Celery task adapters of ordering: the scheduler's side of the order lifecycle."""

from __future__ import annotations

from typing import Final
from uuid import UUID

from celery import Celery
from dishka import AsyncContainer
from structlog.stdlib import get_logger

from app.ordering.application.commands.expire_order import ExpireOrder, ExpireOrderRequest
from app.ordering.application.commands.roll_up_daily_sales import (
    RollUpDailySales,
    RollUpDailySalesRequest,
)
from app.ordering.application.queries.find_overdue_orders import (
    FindOverdueOrders,
    FindOverdueOrdersRequest,
)
from app.shared.domain.errors import DomainError
from app.shared.presentation.background import PeriodicJob, WorkerOptions
from app.shared.presentation.tasks import TaskRunner, exclusive, retrying

EXPIRE_OVERDUE_ORDERS: Final = "ordering.expire_overdue_orders"
ROLL_UP_DAILY_SALES: Final = "ordering.roll_up_daily_sales"

_log = get_logger(__name__)


# Beat's entries; each job's interval is also its run lock's (exclusive()).
EXPIRE_OVERDUE_ORDERS_JOB: Final = PeriodicJob(
    entry="expire-overdue-orders",
    task=EXPIRE_OVERDUE_ORDERS,
    every=lambda options: options.expire_orders_seconds,
)
ROLL_UP_DAILY_SALES_JOB: Final = PeriodicJob(
    entry="roll-up-daily-sales",
    task=ROLL_UP_DAILY_SALES,
    every=lambda options: options.sales_rollup_seconds,
)


def register_ordering_tasks(celery: Celery, run: TaskRunner, options: WorkerOptions) -> None:
    rollup_seconds = ROLL_UP_DAILY_SALES_JOB.every(options)
    expiry_seconds = EXPIRE_OVERDUE_ORDERS_JOB.every(options)

    @celery.task(name=ROLL_UP_DAILY_SALES, **retrying(options.max_retries))  # type: ignore[untyped-decorator]
    def roll_up_daily_sales() -> int:
        async def work(scope: AsyncContainer) -> int:
            return await (await scope.get(RollUpDailySales))(RollUpDailySalesRequest())

        return exclusive(run, ROLL_UP_DAILY_SALES, rollup_seconds, lambda: run(work)) or 0

    @celery.task(name=EXPIRE_OVERDUE_ORDERS, **retrying(options.max_retries))  # type: ignore[untyped-decorator]
    def expire_overdue_orders() -> int:
        return (
            exclusive(run, EXPIRE_OVERDUE_ORDERS, expiry_seconds, lambda: _expire_overdue(run)) or 0
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
