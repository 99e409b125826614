"""Platform jobs: the outbox sweep and the purge of expired bookkeeping rows."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Final, cast

from celery import Celery
from dishka import AsyncContainer
from sqlalchemy import ColumnElement, CursorResult, Table, and_, delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.bootstrap.worker.celery_app import QUEUES
from app.bootstrap.worker.metrics import observe_outbox, observe_queues
from app.identity.application.ports.auth import SessionStore
from app.ordering.infrastructure.tables import order_exports_table
from app.shared.infrastructure.idempotency import idempotency_table
from app.shared.infrastructure.inbox import processed_events_table
from app.shared.infrastructure.outbox import outbox_table
from app.shared.infrastructure.outbox_relay import OutboxRelay
from app.shared.presentation.tasks import TaskRunner, exclusive, job_succeeded, retrying

RELAY_OUTBOX: Final = "platform.relay_outbox"
PURGE: Final = "platform.purge"


def register_platform_tasks(
    celery: Celery, run: TaskRunner, *, max_retries: int, retention: timedelta, purge_every: float
) -> None:
    @celery.task(name=RELAY_OUTBOX, **retrying(max_retries))  # type: ignore[untyped-decorator]
    def relay_outbox() -> int:
        # No lock needed: relays claim rows with SKIP LOCKED and never double-send.
        async def work(scope: AsyncContainer) -> int:
            relayed = await (await scope.get(OutboxRelay)).relay_pending()
            session = await scope.get(AsyncSession)
            backlog = (
                await session.execute(
                    select(
                        func.count(),
                        func.coalesce(
                            func.extract(
                                "epoch", func.now() - func.min(outbox_table.c.recorded_at)
                            ),
                            0,
                        ),
                    ).where(outbox_table.c.published_at.is_(None))
                )
            ).one()
            observe_outbox(int(backlog[0]), float(backlog[1]))
            return relayed

        relayed = run(work)
        observe_queues(celery, QUEUES)
        job_succeeded(RELAY_OUTBOX)
        return relayed

    @celery.task(name=PURGE, **retrying(max_retries))  # type: ignore[untyped-decorator]
    def purge() -> dict[str, int]:
        async def work(scope: AsyncContainer) -> dict[str, int]:
            return await _purge(scope, retention)

        return exclusive(run, PURGE, purge_every, lambda: run(work)) or {}


async def _purge(scope: AsyncContainer, retention: timedelta) -> dict[str, int]:
    session = await scope.get(AsyncSession)
    cutoff = func.now() - retention
    removed = {
        "idempotency_keys": await _delete(
            session, idempotency_table, idempotency_table.c.expires_at <= func.now()
        ),
        "processed_events": await _delete(
            session, processed_events_table, processed_events_table.c.processed_at < cutoff
        ),
        "outbox_events": await _delete(session, outbox_table, outbox_table.c.published_at < cutoff),
        # Their files go with them (ON DELETE CASCADE). An export that never finished (its
        # worker gave up without a word) goes once the retention has passed too.
        "order_exports": await _delete(
            session,
            order_exports_table,
            or_(
                order_exports_table.c.expires_at <= func.now(),
                and_(
                    order_exports_table.c.expires_at.is_(None),
                    order_exports_table.c.requested_at < cutoff,
                ),
            ),
        ),
    }
    await session.commit()
    removed["session_index_entries"] = await (await scope.get(SessionStore)).prune()
    return removed


async def _delete(session: AsyncSession, table: Table, condition: ColumnElement[bool]) -> int:
    result = cast("CursorResult[Any]", await session.execute(delete(table).where(condition)))
    return int(result.rowcount or 0)
