"""Domain service: creating users and changing their credentials under the password policy."""

from __future__ import annotations

from datetime import datetime

from app.identity.domain.ports import PasswordCheck, PasswordHasher, UserIdGenerator
from app.identity.domain.user import User
from app.identity.domain.value_objects import Email, RawPassword, Username, UserStatus
from app.shared.domain.role import Role


class UserService:
    def __init__(self, hasher: PasswordHasher, new_user_id: UserIdGenerator) -> None:
        self._hasher = hasher
        self._new_user_id = new_user_id

    async def create_user(
        self,
        *,
        username: Username,
        email: Email,
        password: RawPassword,
        at: datetime,
        role: Role = Role.CUSTOMER,
    ) -> User:
        password.ensure_acceptable_for(username, email)
        return User(
            id_=self._new_user_id(),
            username=username,
            email=email,
            password_hash=await self._hasher.hash(password),
            role=role,
            status=UserStatus.ACTIVE,
            created_at=at,
            updated_at=at,
        )

    async def check_password(self, user: User, password: RawPassword) -> PasswordCheck:
        return await self._hasher.verify(password, user.password_hash)

    async def change_password(self, user: User, password: RawPassword, *, at: datetime) -> None:
        password.ensure_acceptable_for(user.username, user.email)
        user.change_password_hash(await self._hasher.hash(password), at=at)
