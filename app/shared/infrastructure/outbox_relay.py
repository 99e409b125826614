"""Moves outbox rows to the broker: at least once, in order of recording, safe to run many times.

Two paths share one routine:
- the fast path relays the events a request has just committed (latency: milliseconds);
- the sweep (a periodic job) relays whatever the fast path missed: the API died after its
  commit, the broker was down, a publish failed.

Rows are claimed with ``FOR UPDATE SKIP LOCKED``, so any number of relays run side by side
without waiting on or doubling each other. A row is marked published only after the broker
took it; rows published before a failure in the same batch are kept as published.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from prometheus_client import Counter
from sqlalchemy import ColumnElement, func, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from structlog.stdlib import get_logger

from app.shared.infrastructure.outbox import outbox_table

RELAYED = Counter("outbox_events_relayed_total", "Outbox events handed to the broker.", ["path"])
RELAY_FAILURES = Counter("outbox_relay_failures_total", "Relay batches cut short.", ["path"])

_log = get_logger(__name__)
_o = outbox_table.c


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    event_id: UUID
    event_type: str
    aggregate_type: str
    aggregate_id: UUID
    payload: dict[str, Any]
    headers: dict[str, str]
    occurred_at: datetime


class RelayIncompleteError(RuntimeError):
    """The broker refused part of a batch; the rest stays in the outbox for the sweep."""

    def __init__(self, unpublished: int) -> None:
        super().__init__(f"{unpublished} event(s) left for the sweep")
        self.unpublished = unpublished


# Publishes a batch in order; returns how many were published before any failure.
Publisher = Callable[[Sequence[OutboxMessage]], Awaitable[int]]


class OutboxRelay:
    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        publish: Publisher,
        *,
        batch_size: int = 500,
    ) -> None:
        self._session_factory = session_factory
        self._publish = publish
        self._batch_size = batch_size
        for path in ("fast", "sweep"):  # both series from 0, wherever this relay runs
            RELAYED.labels(path)
            RELAY_FAILURES.labels(path)

    async def relay_events(self, event_ids: Sequence[UUID]) -> int:
        """Fast path: just these events (committed a moment ago by this process).

        Returns how many this call published. Events another relay already claimed or sent are
        not counted and are not a failure; a refused publish raises RelayIncompleteError (after
        the ones that did go out are marked).
        """
        if not event_ids:
            return 0
        claimed, published = await self._relay_batch(_o.id.in_(event_ids), path="fast")
        if published < claimed:
            raise RelayIncompleteError(claimed - published)
        return published

    async def relay_pending(self, *, max_batches: int = 100) -> int:
        """Sweep: every unpublished event, oldest first, batch by batch."""
        total = 0
        for _ in range(max_batches):
            claimed, published = await self._relay_batch(true(), path="sweep")
            total += published
            if published < self._batch_size or published < claimed:
                break
        return total

    async def _relay_batch(self, condition: ColumnElement[bool], *, path: str) -> tuple[int, int]:
        """(rows claimed, rows published) for one batch."""
        async with self._session_factory() as session, session.begin():
            rows = (
                (
                    await session.execute(
                        select(outbox_table)
                        .where(_o.published_at.is_(None), condition)
                        .order_by(_o.position)
                        .limit(self._batch_size)
                        .with_for_update(skip_locked=True)
                    )
                )
                .mappings()
                .all()
            )
            if not rows:
                return 0, 0
            messages = [_message(row) for row in rows]
            try:
                published = await self._publish(messages)
            except Exception:  # noqa: BLE001 - the rows stay unpublished; the sweep retries
                _log.warning("outbox_publish_failed", path=path, batch=len(messages), exc_info=True)
                published = 0
            if published < len(messages):
                RELAY_FAILURES.labels(path).inc()
            sent = [message.event_id for message in messages[:published]]
            if sent:
                await session.execute(
                    update(outbox_table)
                    .where(_o.id.in_(sent))
                    .values(published_at=func.now(), attempts=_o.attempts + 1)
                )
            RELAYED.labels(path).inc(len(sent))
            return len(messages), len(sent)


def _message(row: Any) -> OutboxMessage:  # noqa: ANN401 - a RowMapping
    return OutboxMessage(
        event_id=row["id"],
        event_type=row["event_type"],
        aggregate_type=row["aggregate_type"],
        aggregate_id=row["aggregate_id"],
        payload=dict(row["payload"]),
        headers=dict(row["headers"]),
        occurred_at=row["occurred_at"],
    )
