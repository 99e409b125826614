"""Idempotency keys in PostgreSQL, inside the command's own transaction.

The claim is an INSERT ... ON CONFLICT DO NOTHING: a concurrent request with the same key blocks
on the unique index until the first transaction ends, then sees its committed response (or, if
it rolled back, claims the key itself). No lock service, no polling, and no response is stored
for work that was rolled back.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from sqlalchemy import (
    UUID,
    Column,
    DateTime,
    Index,
    PrimaryKeyConstraint,
    String,
    Table,
    and_,
    delete,
    func,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.shared.application.idempotency import IdempotencyKey, IdempotencyKeyReusedError
from app.shared.application.ports import Clock
from app.shared.infrastructure.database import delete_where, metadata

idempotency_table = Table(
    "idempotency_keys",
    metadata,
    Column("owner", UUID(as_uuid=True), nullable=False),
    Column("operation", String(64), nullable=False),
    Column("key", String(255), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("response", JSONB, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("owner", "operation", "key"),
    Index("ix_idempotency_keys_expires_at", "expires_at"),
)


async def delete_expired_keys(session: AsyncSession) -> int:
    """The purge: keys past their expiry (a retry that late is a new request)."""
    return await delete_where(
        session, idempotency_table, idempotency_table.c.expires_at <= func.now()
    )


class SqlaIdempotencyStore:
    def __init__(self, session: AsyncSession, clock: Clock, *, retention: timedelta) -> None:
        self._session = session
        self._clock = clock
        self._retention = retention

    def _match(self, key: IdempotencyKey) -> Any:  # noqa: ANN401 - a SQL expression
        columns = idempotency_table.c
        return and_(
            columns.owner == key.owner,
            columns.operation == key.operation,
            columns.key == key.key,
        )

    async def claim(self, key: IdempotencyKey) -> dict[str, Any] | None:
        now = self._clock.now()
        # An expired key is forgotten: the request counts as new.
        await self._session.execute(
            delete(idempotency_table).where(self._match(key), idempotency_table.c.expires_at <= now)
        )
        claimed = await self._session.execute(
            insert(idempotency_table)
            .values(
                owner=key.owner,
                operation=key.operation,
                key=key.key,
                fingerprint=key.fingerprint,
                created_at=now,
                expires_at=now + self._retention,
            )
            .on_conflict_do_nothing()
            .returning(idempotency_table.c.key)
        )
        if claimed.first() is not None:
            return None
        row = (
            await self._session.execute(
                select(idempotency_table.c.fingerprint, idempotency_table.c.response).where(
                    self._match(key)
                )
            )
        ).one()
        if row.fingerprint != key.fingerprint:
            raise IdempotencyKeyReusedError(
                "This Idempotency-Key was used for a different request; use a new key."
            )
        response: dict[str, Any] = row.response
        return response

    async def complete(self, key: IdempotencyKey, response: Mapping[str, Any]) -> None:
        await self._session.execute(
            update(idempotency_table).where(self._match(key)).values(response=dict(response))
        )
