"""Query gateway for users: Core selects straight into read models, keyset pagination."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, Select, literal, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from app.identity.application.errors import InvalidCursorError
from app.identity.application.ports.user_reader import UserFilter, UserPage, UserSort, UserView
from app.identity.domain.value_objects import UserId
from app.identity.infrastructure.tables import users_table

_c = users_table.c
_VIEW_COLUMNS = (_c.id, _c.username, _c.email, _c.role, _c.status, _c.created_at, _c.updated_at)


def _escape_like(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class SqlaUserReader:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, user_id: UserId) -> UserView | None:
        statement = select(*_VIEW_COLUMNS).where(_c.id == user_id)
        row = (await self._session.execute(statement)).mappings().one_or_none()
        return None if row is None else _to_view(row)

    async def list(
        self, *, filter_: UserFilter, sort: UserSort, limit: int, cursor: str | None
    ) -> UserPage:
        statement = self._filtered(select(*_VIEW_COLUMNS), filter_)
        key_column = (
            _c.username if sort in {UserSort.USERNAME, UserSort.USERNAME_DESC} else _c.created_at
        )
        descending = sort.value.startswith("-")
        if cursor is not None:
            key_value, last_id = _decode_cursor(cursor, sort)
            position = tuple_(key_column, _c.id)
            bound = tuple_(literal(key_value), literal(last_id))
            statement = statement.where(position < bound if descending else position > bound)
        order = (key_column.desc(), _c.id.desc()) if descending else (key_column.asc(), _c.id.asc())
        rows = (
            (await self._session.execute(statement.order_by(*order).limit(limit + 1)))
            .mappings()
            .all()
        )
        items = [_to_view(row) for row in rows[:limit]]
        next_cursor = None
        if len(rows) > limit:
            last = rows[limit - 1]
            next_cursor = _encode_cursor(sort, last[key_column.name], last["id"])
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


def _encode_cursor(sort: UserSort, key: str | datetime, last_id: UUID) -> str:
    key_text = key.isoformat() if isinstance(key, datetime) else key
    payload = json.dumps([sort.value, key_text, str(last_id)], separators=(",", ":"))
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str, sort: UserSort) -> tuple[str | datetime, UUID]:
    """Cursors are opaque to clients; anything this reader did not issue is a 422."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        cursor_sort, key_text, last_id = json.loads(base64.urlsafe_b64decode(padded))
        if (
            cursor_sort != sort.value
            or not isinstance(key_text, str)
            or not isinstance(last_id, str)
            or "\x00" in key_text
        ):
            raise ValueError(cursor)  # noqa: TRY301 - funnels into the one error below
        return _cursor_key(key_text, sort), UUID(last_id)
    except (ValueError, TypeError, OverflowError, binascii.Error, json.JSONDecodeError):
        raise InvalidCursorError(
            "The cursor is not valid for this listing; start again without one."
        ) from None


def _cursor_key(key_text: str, sort: UserSort) -> str | datetime:
    if "created_at" not in sort.value:
        return key_text
    moment = datetime.fromisoformat(key_text)
    if moment.tzinfo is None:
        raise ValueError(key_text)
    # Normalise to UTC: a forged offset that leaves the representable range fails here
    # (OverflowError), not in PostgreSQL.
    return moment.astimezone(UTC)
