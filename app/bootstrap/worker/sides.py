"""Every context's background side, as the API factory includes every context's routers.

Each context declares its background side once (``app/<context>/presentation/background.py``:
tasks, subscriptions, queues, periodic jobs, purge steps); the platform's own side (the sweep
and the purge, ``platform_tasks.py``) serves them all. Everything bootstrap needs is derived
from this list: a context's new task needs no other edit here.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Final

from app.bootstrap.settings import Settings
from app.bootstrap.worker.platform_tasks import platform_side
from app.identity.presentation import background as identity
from app.notifications.presentation import background as notifications
from app.operations.presentation import background as operations
from app.ordering.presentation import background as ordering
from app.shared.presentation.background import (
    WorkerOptions,
    event_handlers,
    purge_steps,
    routed_queues,
    task_routes,
)

CONTEXTS: Final = (identity.side, ordering.side, notifications.side, operations.side)
SIDES: Final = (platform_side(CONTEXTS), *CONTEXTS)

# Celery's task_routes (worker, beat and the API's publisher).
TASK_ROUTES: Final = task_routes(SIDES)
# What a worker consumes unless --queues says otherwise, and what the queue metrics watch.
QUEUES: Final = routed_queues(TASK_ROUTES)
# Event type -> handler tasks: the outbox relay's fan-out table.
EVENT_HANDLERS: Final = event_handlers(SIDES)
# The purge's steps, in order: the kernel's bookkeeping, then each context's.
PURGE_STEPS: Final = purge_steps(SIDES)


def worker_options(settings: Settings) -> WorkerOptions:
    """The settings the task adapters read (contexts never see ``Settings``)."""
    celery, export = settings.celery, settings.export
    return WorkerOptions(
        max_retries=celery.max_retries,
        retention=timedelta(days=celery.retention_days),
        outbox_sweep_seconds=celery.outbox_sweep_seconds,
        purge_seconds=celery.purge_seconds,
        expire_orders_seconds=celery.expire_orders_seconds,
        sales_rollup_seconds=celery.sales_rollup_seconds,
        export_slice_seconds=export.slice_seconds,
        export_chunk_pause_seconds=export.chunk_pause_ms / 1000,
    )
