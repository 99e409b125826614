from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol, TypedDict

from app.identity.domain.value_objects import UserId, UserStatus
from app.shared.application.pagination import Page
from app.shared.domain.role import Role


class UserView(TypedDict):
    """Read model of a user; never carries the password hash."""

    id: str
    username: str
    email: str
    role: str
    status: str
    created_at: datetime
    updated_at: datetime


class UserSort(StrEnum):
    USERNAME = "username"
    USERNAME_DESC = "-username"
    CREATED_AT = "created_at"
    CREATED_AT_DESC = "-created_at"


@dataclass(frozen=True, slots=True, kw_only=True)
class UserFilter:
    role: Role | None = None
    status: UserStatus | None = None
    search: str | None = None


@dataclass(frozen=True, slots=True)
class Caller:
    """What authorizing a request needs of its user: no entity, one narrow row."""

    role: Role
    status: UserStatus
    credentials_version: int


class UserReader(Protocol):
    """Query-side gateway: projections straight from storage, no entities."""

    async def get(self, user_id: UserId) -> UserView | None: ...

    async def caller(self, user_id: UserId) -> Caller | None: ...

    async def list(
        self, *, filter_: UserFilter, sort: UserSort, limit: int, cursor: str | None
    ) -> Page[UserView]:
        """Keyset pagination; raises InvalidCursorError for a cursor this reader did not issue."""
        ...
