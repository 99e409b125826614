from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.operations.application.ports.dead_letters import DeadLetterPage, DeadLetterView, FailedTask
from app.operations.infrastructure.tables import dead_letters_table
from app.shared.infrastructure.keyset import after, datetime_key, decode_cursor, encode_cursor

_d = dead_letters_table.c
_CURSOR = "newest"
MAX_MESSAGE = 2000


class SqlaDeadLetterStore:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def record(self, failed: FailedTask, *, at: datetime) -> UUID:
        dead_letter_id = uuid.uuid4()
        await self._session.execute(
            insert(dead_letters_table).values(
                id=dead_letter_id,
                task_id=failed.task_id,
                task_name=failed.task_name,
                kwargs=failed.kwargs,
                error_type=failed.error_type[:255],
                error_message=failed.error_message[:MAX_MESSAGE],
                retries=failed.retries,
                failed_at=at,
            )
        )
        return dead_letter_id

    async def get(self, dead_letter_id: UUID, *, for_update: bool = False) -> DeadLetterView | None:
        statement = select(dead_letters_table).where(_d.id == dead_letter_id)
        if for_update:
            statement = statement.with_for_update()
        row = (await self._session.execute(statement)).mappings().first()
        return None if row is None else _view(row)

    async def list(self, *, pending_only: bool, limit: int, cursor: str | None) -> DeadLetterPage:
        statement = select(dead_letters_table)
        if pending_only:
            statement = statement.where(_d.requeued_at.is_(None))
        if cursor is not None:
            position = decode_cursor(cursor, _CURSOR, datetime_key)
            statement = statement.where(after(_d.failed_at, _d.id, position, descending=True))
        rows = (
            (
                await self._session.execute(
                    statement.order_by(_d.failed_at.desc(), _d.id.desc()).limit(limit + 1)
                )
            )
            .mappings()
            .all()
        )
        next_cursor = None
        if len(rows) > limit:
            last = rows[limit - 1]
            next_cursor = encode_cursor(_CURSOR, last["failed_at"], last["id"])
        return DeadLetterPage(items=[_view(row) for row in rows[:limit]], next_cursor=next_cursor)

    async def mark_requeued(self, dead_letter_id: UUID, *, task_id: str, at: datetime) -> None:
        await self._session.execute(
            update(dead_letters_table)
            .where(_d.id == dead_letter_id)
            .values(requeued_at=at, requeued_task_id=task_id)
        )


def _view(row: Any) -> DeadLetterView:  # noqa: ANN401 - a RowMapping
    return DeadLetterView(
        id=str(row["id"]),
        task_id=row["task_id"],
        task_name=row["task_name"],
        kwargs=dict(row["kwargs"]),
        error_type=row["error_type"],
        error_message=row["error_message"],
        retries=row["retries"],
        failed_at=row["failed_at"],
        requeued_at=row["requeued_at"],
        requeued_task_id=row["requeued_task_id"],
    )
