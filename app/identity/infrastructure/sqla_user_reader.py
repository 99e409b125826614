"""Query gateway for users: Core selects straight into read models, keyset pagination."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, or_, select

from app.identity.application.ports.user_reader import (
    Caller,
    UserFilter,
    UserPage,
    UserSort,
    UserView,
)
from app.identity.domain.value_objects import UserId
from app.identity.infrastructure.tables import users_table
from app.shared.infrastructure.database import ReadConnections
from app.shared.infrastructure.keyset import (
    after,
    datetime_key,
    decode_cursor,
    encode_cursor,
    text_key,
)

_c = users_table.c
_VIEW_COLUMNS = (_c.id, _c.username, _c.email, _c.role, _c.status, _c.created_at, _c.updated_at)


def _escape_like(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class SqlaUserReader:
    def __init__(self, reads: ReadConnections) -> None:
        self._reads = reads

    async def get(self, user_id: UserId) -> UserView | None:
        statement = select(*_VIEW_COLUMNS).where(_c.id == user_id)
        row = (await self._reads.execute(statement)).mappings().one_or_none()
        return None if row is None else _to_view(row)

    async def caller(self, user_id: UserId) -> Caller | None:
        statement = select(_c.role, _c.status, _c.credentials_version).where(_c.id == user_id)
        row = (await self._reads.execute(statement)).one_or_none()
        return None if row is None else Caller(*row)

    async def list(
        self, *, filter_: UserFilter, sort: UserSort, limit: int, cursor: str | None
    ) -> UserPage:
        statement = self._filtered(select(*_VIEW_COLUMNS), filter_)
        key_column = (
            _c.username if sort in {UserSort.USERNAME, UserSort.USERNAME_DESC} else _c.created_at
        )
        descending = sort.value.startswith("-")
        if cursor is not None:
            parse_key = datetime_key if key_column is _c.created_at else text_key
            position = decode_cursor(cursor, sort.value, parse_key)
            statement = statement.where(after(key_column, _c.id, position, descending=descending))
        order = (key_column.desc(), _c.id.desc()) if descending else (key_column.asc(), _c.id.asc())
        rows = (
            (await self._reads.execute(statement.order_by(*order).limit(limit + 1)))
            .mappings()
            .all()
        )
        items = [_to_view(row) for row in rows[:limit]]
        next_cursor = None
        if len(rows) > limit:
            last = rows[limit - 1]
            next_cursor = encode_cursor(sort.value, last[key_column.name], last["id"])
        return UserPage(items=items, next_cursor=next_cursor)

    @staticmethod
    def _filtered(statement: Select[Any], filter_: UserFilter) -> Select[Any]:
        conditions: list[ColumnElement[bool]] = []
        if filter_.role is not None:
            conditions.append(_c.role == filter_.role)
        if filter_.status is not None:
            conditions.append(_c.status == filter_.status)
        if filter_.search:
            pattern = f"%{_escape_like(filter_.search.strip().lower())}%"
            conditions.append(
                or_(_c.username.like(pattern, escape="\\"), _c.email.like(pattern, escape="\\"))
            )
        return statement.where(*conditions)


def _to_view(row: Any) -> UserView:  # noqa: ANN401 - a SQLAlchemy RowMapping
    return UserView(
        id=str(row["id"]),
        username=row["username"],
        email=row["email"],
        role=str(row["role"].value),
        status=str(row["status"].value),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )
