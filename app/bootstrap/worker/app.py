"""The worker's and beat's Celery application: every side's tasks, per-process runtime, schedule.

Built from the list of background sides (``sides.py``), the way the API factory includes every
context's routers: each side registers its tasks, and beat's schedule is every side's periodic
jobs. The schedule is code, reviewed like code. Periodic jobs that must not run twice take a
Redis lock per run (JobLock), so two beat processes started by mistake still run each job once
per interval; the outbox sweep needs none (SKIP LOCKED makes concurrent sweeps safe).
"""

from __future__ import annotations

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
from app.bootstrap.worker.probes import install_probes
from app.bootstrap.worker.runtime import WorkerRuntime
from app.bootstrap.worker.sides import SIDES, worker_options
from app.shared.application.correlation import request_id
from app.shared.presentation.background import beat_schedule


def create_worker_celery(settings: Settings) -> Celery:
    config = settings.celery
    celery = create_celery(settings)
    runtime = WorkerRuntime(settings)
    options = worker_options(settings)
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

    def send_at_beat_start(**_: Any) -> None:  # noqa: ANN401
        # Jobs a side wants run as soon as beat starts, not one interval later; their locks
        # keep this at one run however many beats start.
        for side in SIDES:
            for task in side.at_beat_start:
                celery.send_task(task)

    # weak=False: the receivers are closures; Celery would otherwise drop them at once.
    beat_init.connect(send_at_beat_start, weak=False)
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
    for side in SIDES:
        side.register(celery, runtime.run, options)
    celery.conf.beat_schedule = beat_schedule(SIDES, options)
    return celery
