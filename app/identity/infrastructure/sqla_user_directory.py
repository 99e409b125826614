"""Identity's side of the shared UserDirectory contract (who to write to, and by what name)."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.identity.infrastructure.tables import users_table
from app.shared.application.directory import Contact


class SqlaUserDirectory:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def contact(self, user_id: UUID) -> Contact | None:
        columns = users_table.c
        row = (
            await self._session.execute(
                select(columns.email, columns.username).where(columns.id == user_id)
            )
        ).first()
        return None if row is None else Contact(email=row.email, name=row.username)
