from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.operations.application.ports.dead_letters import DeadLetterView, FailedTask
from app.operations.infrastructure.tables import dead_letters_table
from app.shared.application.pagination import Page
from app.shared.infrastructure.keyset import Keyset, core_page, datetime_key

_d = dead_letters_table.c
_NEWEST = Keyset("newest", "failed_at", datetime_key, descending=True)
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

    async def list(
        self, *, pending_only: bool, limit: int, cursor: str | None
    ) -> Page[DeadLetterView]:
        statement = select(dead_letters_table)
        if pending_only:
            statement = statement.where(_d.requeued_at.is_(None))
        return await core_page(
            self._session.execute, statement, _NEWEST, limit=limit, cursor=cursor, to_item=_view
        )

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
