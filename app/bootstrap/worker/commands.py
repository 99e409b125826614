"""CLI commands of the background side: ``worker``, ``worker-check`` and ``beat``."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from app.bootstrap.settings import CelerySettings, load_section, load_settings


def run_worker(args: argparse.Namespace) -> int:
    # Before prometheus_client is imported: pool processes write samples here, the main process
    # serves their sum on APP_CELERY_METRICS_PORT.
    metrics_dir = Path(
        os.environ.setdefault(
            "PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="worker-metrics-")
        )
    )
    # Stale files would be summed into this run's counters. The directory itself may be a
    # mount point (an emptyDir in the chart), so only its contents go.
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir(parents=True, exist_ok=True)
    # SIGTERM (what Kubernetes sends) becomes Celery's cold shutdown, which honours
    # worker_soft_shutdown_timeout (APP_CELERY_SHUTDOWN_TIMEOUT): running tasks get that long,
    # then are handed back to the broker (acks_late) instead of holding the pod indefinitely.
    os.environ.setdefault("REMAP_SIGTERM", "SIGQUIT")
    from celery.platforms import EX_FAILURE  # noqa: PLC0415
    from celery.signals import worker_init, worker_shutting_down  # noqa: PLC0415

    from app.bootstrap.worker.app import create_worker_celery  # noqa: PLC0415
    from app.bootstrap.worker.metrics import install_task_metrics  # noqa: PLC0415
    from app.bootstrap.worker.sides import QUEUES  # noqa: PLC0415

    settings = load_settings()
    celery = create_worker_celery(settings)
    install_task_metrics(
        args.metrics_port if args.metrics_port >= 0 else settings.celery.metrics_port
    )
    asked_to_stop: list[str] = []
    workers: list[Any] = []

    def shutting_down(sig: str = "", **_: object) -> None:
        asked_to_stop.append(sig)

    def started(sender: Any = None, **_: object) -> None:  # noqa: ANN401 - the WorkController
        workers.append(sender)

    # weak=False: closures; Celery would otherwise drop them at once.
    worker_shutting_down.connect(shutting_down, weak=False)
    worker_init.connect(started, weak=False)
    try:
        celery.worker_main(
            [
                "worker",
                f"--loglevel={settings.log.level}",
                f"--concurrency={args.concurrency or settings.celery.concurrency}",
                f"--pool={args.pool}",
                f"--queues={args.queues or ','.join(QUEUES)}",
                "--without-gossip",
                "--without-mingle",
            ]
        )
    except SystemExit as stopped:
        # Celery ends a cold shutdown with exit code 1, even one asked for with SIGTERM: a stop
        # that was asked for exits 0 (Kubernetes and supervisors read non-zero as a crash).
        if asked_to_stop and stopped.code == EX_FAILURE:
            return 0
        raise
    finally:
        # However the worker ended (a cold shutdown sends no worker_shutdown signal), the probes
        # must now fail.
        for probe in (settings.celery.ready_file, settings.celery.heartbeat_file):
            Path(probe).unlink(missing_ok=True)
    # worker_main() drops the worker's exit code (Celery.start() returns it, worker_main() does
    # not): a worker stopped by an "Unrecoverable error" (a broker error it does not retry, say)
    # exited 0, which supervisors read as a requested stop. Take it from the worker itself.
    code = workers[-1].exitcode if workers else None
    if code is None or (asked_to_stop and code == EX_FAILURE):
        return 0
    return code if isinstance(code, int) else EX_FAILURE


def check_worker(args: argparse.Namespace) -> int:
    from app.bootstrap.worker.probes import check  # noqa: PLC0415

    config = load_section(CelerySettings)
    healthy, reason = check(
        heartbeat=Path(config.heartbeat_file),
        ready=Path(config.ready_file),
        max_age=args.max_age or config.heartbeat_seconds * 3,
    )
    print(reason, file=sys.stderr)  # noqa: T201
    return 0 if healthy else 1


def run_beat(_: argparse.Namespace) -> int:
    from app.bootstrap.worker.app import create_worker_celery  # noqa: PLC0415

    settings = load_settings()
    celery = create_worker_celery(settings)
    celery.start(
        [
            "beat",
            f"--loglevel={settings.log.level}",
            f"--schedule={settings.celery.beat_schedule_file}",
        ]
    )
    return 0
