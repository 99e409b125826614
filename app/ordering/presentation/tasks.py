"""Celery task adapters of ordering: the scheduler's side of the order lifecycle."""

from __future__ import annotations

from typing import Final
from uuid import UUID

from celery import Celery
from dishka import AsyncContainer
from structlog.stdlib import get_logger

from app.ordering.application.commands.expire_order import ExpireOrder, ExpireOrderRequest
from app.ordering.application.queries.find_overdue_orders import (
    FindOverdueOrders,
    FindOverdueOrdersRequest,
)
from app.shared.application.jobs import JobLock
from app.shared.domain.errors import DomainError
from app.shared.presentation.tasks import TaskRunner, retrying

EXPIRE_OVERDUE_ORDERS: Final = "ordering.expire_overdue_orders"

_log = get_logger(__name__)


def register_ordering_tasks(
    celery: Celery, run: TaskRunner, *, max_retries: int, interval_seconds: float
) -> None:
    @celery.task(name=EXPIRE_OVERDUE_ORDERS, **retrying(max_retries))  # type: ignore[untyped-decorator]
    def expire_overdue_orders() -> int:
        async def claim(scope: AsyncContainer) -> bool:
            lock: JobLock = await scope.get(JobLock)
            return await lock.acquire(EXPIRE_OVERDUE_ORDERS, interval_seconds * 0.9)

        if not run(claim):
            return 0
        try:
            return _expire_overdue(run)
        except Exception:
            # Give the claim back, so the retry Celery schedules can run before the next interval.
            async def release(scope: AsyncContainer) -> None:
                await (await scope.get(JobLock)).release(EXPIRE_OVERDUE_ORDERS)

            run(release)
            raise


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
