from __future__ import annotations

from typing import Protocol

from app.identity.domain.user import User
from app.identity.domain.value_objects import Email, UserId, Username


class UserRepository(Protocol):
    """Command-side gateway: loads and stores whole User entities."""

    def add(self, user: User) -> None: ...

    async def get_by_id(self, user_id: UserId, *, for_update: bool = False) -> User | None: ...

    async def get_by_username(self, username: Username) -> User | None: ...

    async def get_by_email(self, email: Email) -> User | None: ...
