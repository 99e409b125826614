"""The worker's and beat's Celery application: tasks, per-process runtime, schedule.

The schedule is code, reviewed like code. Periodic jobs that must not run twice take a Redis
lock per run (JobLock), so two beat processes started by mistake still run each job once per
interval; the outbox sweep needs none (SKIP LOCKED makes concurrent sweeps safe).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from celery import Celery
from celery.signals import (
    beat_init,
    task_postrun,
    task_prerun,
    worker_process_init,
    worker_process_shutdown,
)

from app.bootstrap.build_info import publish_build_info
from app.bootstrap.settings import Settings
from app.bootstrap.worker.celery_app import create_celery
from app.bootstrap.worker.platform_tasks import PURGE, RELAY_OUTBOX, register_platform_tasks
from app.bootstrap.worker.probes import install_probes
from app.bootstrap.worker.runtime import WorkerRuntime
from app.notifications.presentation.tasks import register_notification_tasks
from app.operations.presentation.tasks import record_dead_letters
from app.ordering.presentation.export_tasks import register_export_task
from app.ordering.presentation.tasks import (
    EXPIRE_OVERDUE_ORDERS,
    ROLL_UP_DAILY_SALES,
    register_ordering_tasks,
)
from app.shared.application.correlation import request_id


def create_worker_celery(settings: Settings) -> Celery:
    config = settings.celery
    celery = create_celery(settings)
    runtime = WorkerRuntime(settings)
    # In the main process, which serves the metrics (beat writes it nowhere).
    publish_build_info(settings.app)

    def start(**_: Any) -> None:  # noqa: ANN401 - Celery signal arguments
        runtime.start()

    def stop(**_: Any) -> None:  # noqa: ANN401
        runtime.stop()

    def bind_request_id(task: Any = None, **_: Any) -> None:  # noqa: ANN401
        # The request id travels in the task's headers (from the outbox row): logs written while
        # the task runs carry the id of the request that caused it.
        request_id.set(getattr(getattr(task, "request", None), "request_id", None))

    def unbind_request_id(**_: Any) -> None:  # noqa: ANN401
        request_id.set(None)

    def roll_up_at_start(**_: Any) -> None:  # noqa: ANN401
        # An interval schedule first fires one interval after beat starts; the sales figures
        # should not wait that long after a deployment. The job's lock keeps this at one run
        # however many beats start.
        celery.send_task(ROLL_UP_DAILY_SALES)

    # weak=False: the receivers are closures; Celery would otherwise drop them at once.
    beat_init.connect(roll_up_at_start, weak=False)
    worker_process_init.connect(start, weak=False)
    worker_process_shutdown.connect(stop, weak=False)
    task_prerun.connect(bind_request_id, weak=False)
    task_postrun.connect(unbind_request_id, weak=False)

    install_probes(
        celery,
        heartbeat=Path(config.heartbeat_file),
        ready=Path(config.ready_file),
        interval=config.heartbeat_seconds,
    )
    celery.conf.worker_soft_shutdown_timeout = config.shutdown_timeout
    register_notification_tasks(celery, runtime.run, max_retries=config.max_retries)
    record_dead_letters(runtime.run)
    register_ordering_tasks(
        celery,
        runtime.run,
        max_retries=config.max_retries,
        interval_seconds=config.expire_orders_seconds,
        rollup_seconds=config.sales_rollup_seconds,
    )
    register_export_task(
        celery,
        runtime.run,
        max_retries=config.max_retries,
        slice_seconds=settings.export.slice_seconds,
        chunk_pause_seconds=settings.export.chunk_pause_ms / 1000,
    )
    register_platform_tasks(
        celery,
        runtime.run,
        max_retries=config.max_retries,
        retention=timedelta(days=config.retention_days),
        purge_every=config.purge_seconds,
    )
    celery.conf.beat_schedule = {
        # "expires": a run the workers could not start within its interval is dropped, so an
        # outage does not leave a pile of identical jobs behind.
        "relay-outbox": {
            "task": RELAY_OUTBOX,
            "schedule": config.outbox_sweep_seconds,
            "options": {"expires": config.outbox_sweep_seconds},
        },
        "expire-overdue-orders": {
            "task": EXPIRE_OVERDUE_ORDERS,
            "schedule": config.expire_orders_seconds,
            "options": {"expires": config.expire_orders_seconds},
        },
        "roll-up-daily-sales": {
            "task": ROLL_UP_DAILY_SALES,
            "schedule": config.sales_rollup_seconds,
            "options": {"expires": config.sales_rollup_seconds},
        },
        "purge": {
            "task": PURGE,
            "schedule": config.purge_seconds,
            "options": {"expires": config.purge_seconds},
        },
    }
    return celery
