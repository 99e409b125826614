"""The background side of ordering: order expiry and the daily sales roll-up (beat), CSV exports
(on their own queue, run on ordering's own events), and the purge of expired exports."""

from __future__ import annotations

from datetime import timedelta
from typing import Final

from celery import Celery
from dishka import AsyncContainer

from app.ordering.application.commands.purge_order_exports import (
    PurgeOrderExports,
    PurgeOrderExportsRequest,
)
from app.ordering.presentation.export_tasks import (
    EXPORTS_QUEUE,
    RUN_ORDER_EXPORT,
    register_export_task,
)
from app.ordering.presentation.tasks import (
    EXPIRE_OVERDUE_ORDERS,
    EXPIRE_OVERDUE_ORDERS_JOB,
    ROLL_UP_DAILY_SALES,
    ROLL_UP_DAILY_SALES_JOB,
    register_ordering_tasks,
)
from app.shared.presentation.background import BackgroundSide, PurgeStep, WorkerOptions
from app.shared.presentation.tasks import TaskRunner

MAINTENANCE_QUEUE: Final = "maintenance"


def _register(celery: Celery, run: TaskRunner, options: WorkerOptions) -> None:
    register_ordering_tasks(celery, run, options)
    register_export_task(celery, run, options)


async def purge_order_exports(scope: AsyncContainer, retention: timedelta) -> int:
    request = PurgeOrderExportsRequest(retention=retention)
    return await (await scope.get(PurgeOrderExports))(request)


side: Final = BackgroundSide(
    context="ordering",
    register=_register,
    event_handlers={
        "OrderExportRequested": (RUN_ORDER_EXPORT,),
        "OrderExportContinued": (RUN_ORDER_EXPORT,),
    },
    task_queues={
        RUN_ORDER_EXPORT: EXPORTS_QUEUE,
        EXPIRE_OVERDUE_ORDERS: MAINTENANCE_QUEUE,
        ROLL_UP_DAILY_SALES: MAINTENANCE_QUEUE,
    },
    periodic=(EXPIRE_OVERDUE_ORDERS_JOB, ROLL_UP_DAILY_SALES_JOB),
    # An interval schedule first fires one interval after beat starts; the sales figures should
    # not wait that long after a deployment. The job's lock keeps this at one run however many
    # beats start.
    at_beat_start=(ROLL_UP_DAILY_SALES,),
    purge_steps=(PurgeStep("order_exports", purge_order_exports),),
)
