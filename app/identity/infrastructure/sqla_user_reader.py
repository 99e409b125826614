"""Query gateway for users: SQL straight into read models, keyset pagination.

The caller (every authorized request) and the listing are plain SQL through asyncpg
(ReadConnections.fetch): they are the hottest reads, and SQLAlchemy Core cost more CPU than the
round trip itself. Column names are ``users_table``'s (app/identity/infrastructure/tables.py).
"""

from __future__ import annotations

from typing import Any

from app.identity.application.ports.user_reader import (
    Caller,
    UserFilter,
    UserSort,
    UserView,
)
from app.identity.domain.value_objects import UserId, UserStatus
from app.shared.application.pagination import Page
from app.shared.domain.role import Role
from app.shared.infrastructure.database import ReadConnections
from app.shared.infrastructure.keyset import (
    SqlParams,
    by_sort,
    datetime_key,
    escape_like,
    sql_page,
    text_key,
)

_SELECT_VIEW = "SELECT id, username, email, role, status, created_at, updated_at FROM users"
_CALLER = "SELECT role, status, credentials_version FROM users WHERE id = $1"
# Sort -> key column, its parser, descending, its PostgreSQL type (for the cursor's parameter).
_ORDER = by_sort(
    (UserSort.USERNAME, "username", text_key, False, "varchar"),
    (UserSort.USERNAME_DESC, "username", text_key, True, "varchar"),
    (UserSort.CREATED_AT, "created_at", datetime_key, False, "timestamptz"),
    (UserSort.CREATED_AT_DESC, "created_at", datetime_key, True, "timestamptz"),
)


class SqlaUserReader:
    def __init__(self, reads: ReadConnections) -> None:
        self._reads = reads

    async def get(self, user_id: UserId) -> UserView | None:
        rows = await self._reads.fetch(f"{_SELECT_VIEW} WHERE id = $1", user_id)
        return _to_view(rows[0]) if rows else None

    async def caller(self, user_id: UserId) -> Caller | None:
        rows = await self._reads.fetch(_CALLER, user_id)
        if not rows:
            return None
        role, status, credentials_version = rows[0]
        return Caller(Role(role), UserStatus(status), credentials_version)

    async def list(
        self, *, filter_: UserFilter, sort: UserSort, limit: int, cursor: str | None
    ) -> Page[UserView]:
        param = SqlParams()
        if filter_.role is not None:
            param.where(f"role = {param(filter_.role.value)}")
        if filter_.status is not None:
            param.where(f"status = {param(filter_.status.value)}")
        if filter_.search:
            pattern = param(f"%{escape_like(filter_.search.strip().lower())}%")
            param.where(
                f"(username LIKE {pattern} ESCAPE '\\' OR email LIKE {pattern} ESCAPE '\\')"
            )
        return await sql_page(
            self._reads.fetch,
            _SELECT_VIEW,
            param,
            _ORDER[sort],
            limit=limit,
            cursor=cursor,
            to_item=_to_view,
        )


def _to_view(row: Any) -> UserView:  # noqa: ANN401 - an asyncpg Record
    return UserView(
        id=str(row["id"]),
        username=row["username"],
        email=row["email"],
        role=row["role"],
        status=row["status"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )
