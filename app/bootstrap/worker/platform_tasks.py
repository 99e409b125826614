"""The platform's own background side: the outbox sweep and the purge, which serve every side.

The sweep relays every context's events and watches every queue the sides route to; the purge
runs every side's purge steps, the kernel's bookkeeping first. Both take the list of sides
(``platform_side()``); what each step deletes is its owner's rule, kept beside its table.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Final

from celery import Celery
from dishka import AsyncContainer
from sqlalchemy.ext.asyncio import AsyncSession

from app.shared.infrastructure.idempotency import delete_expired_keys
from app.shared.infrastructure.inbox import delete_processed_events
from app.shared.infrastructure.outbox import delete_published_events, outbox_backlog
from app.shared.infrastructure.outbox_relay import OutboxRelay
from app.shared.presentation.background import (
    BackgroundSide,
    PeriodicJob,
    PurgeStep,
    WorkerOptions,
    purge_steps,
    routed_queues,
    task_routes,
)
from app.shared.presentation.tasks import TaskRunner, exclusive, job_succeeded, retrying

RELAY_OUTBOX: Final = "platform.relay_outbox"
PURGE: Final = "platform.purge"
MAINTENANCE_QUEUE: Final = "maintenance"

RELAY_OUTBOX_JOB: Final = PeriodicJob(
    entry="relay-outbox", task=RELAY_OUTBOX, every=lambda options: options.outbox_sweep_seconds
)
PURGE_JOB: Final = PeriodicJob(
    entry="purge", task=PURGE, every=lambda options: options.purge_seconds
)


async def purge_idempotency_keys(scope: AsyncContainer, _: timedelta) -> int:
    session = await scope.get(AsyncSession)
    removed = await delete_expired_keys(session)
    await session.commit()
    return removed


async def purge_processed_events(scope: AsyncContainer, retention: timedelta) -> int:
    session = await scope.get(AsyncSession)
    removed = await delete_processed_events(session, retention)
    await session.commit()
    return removed


async def purge_outbox_events(scope: AsyncContainer, retention: timedelta) -> int:
    session = await scope.get(AsyncSession)
    removed = await delete_published_events(session, retention)
    await session.commit()
    return removed


# The shared kernel's bookkeeping: idempotency keys, the inbox and the outbox.
BOOKKEEPING: Final = (
    PurgeStep("idempotency_keys", purge_idempotency_keys),
    PurgeStep("processed_events", purge_processed_events),
    PurgeStep("outbox_events", purge_outbox_events),
)


def platform_side(contexts: Sequence[BackgroundSide]) -> BackgroundSide:
    """The platform's side, serving itself and ``contexts``."""

    def register(celery: Celery, run: TaskRunner, options: WorkerOptions) -> None:
        every_side = (side, *contexts)
        register_platform_tasks(
            celery,
            run,
            options,
            queues=routed_queues(task_routes(every_side)),
            steps=purge_steps(every_side),
        )

    side = BackgroundSide(
        context="platform",
        register=register,
        task_queues={RELAY_OUTBOX: MAINTENANCE_QUEUE, PURGE: MAINTENANCE_QUEUE},
        periodic=(RELAY_OUTBOX_JOB, PURGE_JOB),
        purge_steps=BOOKKEEPING,
    )
    return side


def register_platform_tasks(
    celery: Celery,
    run: TaskRunner,
    options: WorkerOptions,
    *,
    queues: tuple[str, ...],
    steps: Sequence[PurgeStep],
) -> None:
    # Worker and beat only: the API imports this module (through the sides' routes) and must not
    # serve the worker's gauges, which exist from the moment their module is imported.
    from app.bootstrap.worker.metrics import observe_outbox, observe_queues  # noqa: PLC0415

    purge_every = PURGE_JOB.every(options)

    @celery.task(name=RELAY_OUTBOX, **retrying(options.max_retries))  # type: ignore[untyped-decorator]
    def relay_outbox() -> int:
        # No lock needed: relays claim rows with SKIP LOCKED and never double-send.
        async def work(scope: AsyncContainer) -> int:
            relayed = await (await scope.get(OutboxRelay)).relay_pending()
            backlog = await outbox_backlog(await scope.get(AsyncSession))
            observe_outbox(backlog.unpublished, backlog.oldest_age_seconds)
            return relayed

        relayed = run(work)
        observe_queues(celery, queues)
        job_succeeded(RELAY_OUTBOX)
        return relayed

    @celery.task(name=PURGE, **retrying(options.max_retries))  # type: ignore[untyped-decorator]
    def purge() -> dict[str, int]:
        async def work(scope: AsyncContainer) -> dict[str, int]:
            return await _purge(scope, options.retention, steps)

        return exclusive(run, PURGE, purge_every, lambda: run(work)) or {}


async def _purge(
    scope: AsyncContainer, retention: timedelta, steps: Sequence[PurgeStep]
) -> dict[str, int]:
    """Every side's purge steps in turn, each in its own transaction: how many each removed."""
    return {step.name: await step.run(scope, retention) for step in steps}
