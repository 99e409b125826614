from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.identity.domain.user import User
from app.identity.domain.value_objects import Email, UserId, Username
from app.identity.infrastructure.tables import users_table


class SqlaUserRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def add(self, user: User) -> None:
        self._session.add(user)

    async def get_by_id(self, user_id: UserId, *, for_update: bool = False) -> User | None:
        if not for_update:
            return await self._session.get(User, user_id)
        return await self._session.get(User, user_id, with_for_update=True)

    async def get_by_username(self, username: Username) -> User | None:
        statement = select(User).where(users_table.c.username == username.value)
        return (await self._session.execute(statement)).scalar_one_or_none()

    async def get_by_email(self, email: Email) -> User | None:
        statement = select(User).where(users_table.c.email == email.value)
        return (await self._session.execute(statement)).scalar_one_or_none()
