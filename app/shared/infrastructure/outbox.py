"""The transactional outbox: domain events stored in the same transaction as their change.

A relay (the background-processing work) publishes unsent rows; nothing here talks to a broker,
so an event exists if and only if the change that raised it was committed.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import Enum
from typing import Any

from opentelemetry import propagate
from sqlalchemy import (
    UUID,
    BigInteger,
    Column,
    DateTime,
    Identity,
    Index,
    Integer,
    String,
    Table,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from app.shared.application.correlation import request_id as current_request_id
from app.shared.domain.events import DomainEvent
from app.shared.infrastructure.database import delete_where, metadata

outbox_table = Table(
    "outbox_events",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    # Insert order (timestamps tie inside one transaction); relays go by it.
    Column("position", BigInteger, Identity(always=True), nullable=False, unique=True),
    Column("aggregate_type", String(64), nullable=False),
    Column("aggregate_id", UUID(as_uuid=True), nullable=False),
    Column("event_type", String(128), nullable=False),
    Column("payload", JSONB, nullable=False),
    # W3C trace context and request id, so the relay's work joins the request's trace.
    Column("headers", JSONB, nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("published_at", DateTime(timezone=True), nullable=True),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Index(
        "ix_outbox_events_unpublished_position",
        "position",
        postgresql_where=text("published_at IS NULL"),
    ),
)


def _json_default(value: Any) -> Any:  # noqa: ANN401 - json's hook
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, Enum):
        return value.value
    msg = f"{type(value).__name__} is not serialisable in an event"
    raise TypeError(msg)


def event_payload(event: DomainEvent) -> dict[str, Any]:
    fields = {
        field.name: getattr(event, field.name)
        for field in dataclasses.fields(event)
        if field.name not in {"event_id", "aggregate_id", "occurred_at"}
    }
    loaded: dict[str, Any] = json.loads(json.dumps(fields, default=_json_default))
    return loaded


def _headers() -> dict[str, str]:
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    request_id = current_request_id.get()
    if request_id:
        carrier["request_id"] = request_id
    return carrier


async def write_events(session: AsyncSession, events: Iterable[DomainEvent]) -> int:
    rows = [
        {
            "id": event.event_id,
            "aggregate_type": event.aggregate_type,
            "aggregate_id": event.aggregate_id,
            "event_type": event.event_type(),
            "payload": event_payload(event),
            "headers": _headers(),
            "occurred_at": event.occurred_at,
        }
        for event in events
    ]
    if rows:
        await session.execute(insert(outbox_table), rows)
    return len(rows)


@dataclasses.dataclass(frozen=True, slots=True)
class OutboxBacklog:
    unpublished: int
    oldest_age_seconds: float  # 0 when none


async def outbox_backlog(session: AsyncSession) -> OutboxBacklog:
    """Events not relayed yet, and how long the oldest of them has waited (the sweep's gauges)."""
    _o = outbox_table.c
    oldest_age = func.extract("epoch", func.now() - func.min(_o.recorded_at))
    row = (
        await session.execute(
            select(func.count(), func.coalesce(oldest_age, 0)).where(_o.published_at.is_(None))
        )
    ).one()
    return OutboxBacklog(unpublished=int(row[0]), oldest_age_seconds=float(row[1]))


async def delete_published_events(session: AsyncSession, older_than: timedelta) -> int:
    """The purge: events published longer ago than the retention. An unpublished event stays,
    however old: the purge never loses one."""
    table = outbox_table
    return await delete_where(session, table, table.c.published_at < func.now() - older_than)
