"""Handled events, written in the handler's own transaction (the consumer side of the outbox).

The primary key (handler, event id) is the deduplication: a redelivered event inserts nothing
and the handler skips its side effect; a concurrent duplicate blocks on the key until the first
delivery's transaction ends.
"""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

from sqlalchemy import UUID as SQL_UUID
from sqlalchemy import Column, DateTime, Index, PrimaryKeyConstraint, String, Table, func
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.shared.infrastructure.database import delete_where, metadata

processed_events_table = Table(
    "processed_events",
    metadata,
    Column("handler", String(128), nullable=False),
    Column("event_id", SQL_UUID(as_uuid=True), nullable=False),
    Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("handler", "event_id"),
    Index("ix_processed_events_processed_at", "processed_at"),
)


async def delete_processed_events(session: AsyncSession, older_than: timedelta) -> int:
    """The purge: inbox rows older than the retention. A redelivery that late is not expected
    (the broker's visibility timeout and the retries end long before)."""
    table = processed_events_table
    return await delete_where(session, table, table.c.processed_at < func.now() - older_than)


class SqlaEventInbox:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def first_delivery(self, handler: str, event_id: UUID) -> bool:
        inserted = await self._session.execute(
            insert(processed_events_table)
            .values(handler=handler, event_id=event_id)
            .on_conflict_do_nothing()
            .returning(processed_events_table.c.event_id)
        )
        return inserted.first() is not None
