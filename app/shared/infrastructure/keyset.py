"""Keyset (cursor) pagination shared by every query gateway.

A page ends with an opaque cursor: base64url JSON of ``[sort, key, last id]``. The next page is
``WHERE (key, id) > (cursor key, cursor id)`` (``<`` when descending) on an index over
``(key, id)``: constant cost per page, however deep, and stable under concurrent inserts.
Cursors are untrusted input: anything a reader did not issue is InvalidCursorError (422) before
it can reach PostgreSQL.

A reader describes each of its orders once (``Keyset``) and hands its filtered query to
``sql_page`` (SQL text through asyncpg) or ``core_page`` (a Core select): the page loop (cursor,
position filter, ``(key, id)`` order, one row more than the page, the next cursor) is written
here only.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, TypeVar
from uuid import UUID

from sqlalchemy import ColumnElement, Result, Select, literal, tuple_

from app.shared.application.errors import InvalidCursorError
from app.shared.application.pagination import Page

K = TypeVar("K")
T = TypeVar("T")
S = TypeVar("S", bound=StrEnum)
_AMOUNT_BOUND = Decimal("1e12")
# No amount column has more places than this (prices have 2); a forged key with a tiny exponent
# (1e-20000) would otherwise fail in the driver, as a 500.
_AMOUNT_MAX_PLACES = 6


def encode_cursor(sort: str, key: str | Decimal | datetime, last_id: UUID) -> str:
    key_text = key.isoformat() if isinstance(key, datetime) else str(key)
    payload = json.dumps([sort, key_text, str(last_id)], separators=(",", ":"))
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str, parse_key: Callable[[str], K]) -> tuple[K, UUID]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        cursor_sort, key_text, last_id = json.loads(base64.urlsafe_b64decode(padded))
        if not (
            cursor_sort == sort
            and isinstance(key_text, str)
            and isinstance(last_id, str)
            and "\x00" not in key_text
        ):
            raise ValueError(cursor)  # noqa: TRY301 - funnels into the one error below
        return parse_key(key_text), UUID(last_id)
    except (ValueError, TypeError, OverflowError, InvalidOperation, binascii.Error):
        raise InvalidCursorError(
            "The cursor is not valid for this listing; start again without one."
        ) from None


def text_key(text: str) -> str:
    # JSON may carry a lone surrogate ("\ud800"), which no UTF-8 driver can send: a ValueError.
    text.encode()
    return text


def datetime_key(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(text)
    # Normalised to UTC here, so a forged offset out of range fails now, not in PostgreSQL.
    return moment.astimezone(UTC)


def decimal_key(text: str) -> Decimal:
    amount = Decimal(text)
    exponent = amount.as_tuple().exponent
    if (
        not isinstance(exponent, int)  # NaN and infinities
        or exponent < -_AMOUNT_MAX_PLACES
        or abs(amount) >= _AMOUNT_BOUND
    ):
        raise ValueError(text)
    return amount


def after(
    key_column: Any,  # noqa: ANN401 - a SQLAlchemy column
    id_column: Any,  # noqa: ANN401
    position: tuple[object, UUID],
    *,
    descending: bool,
) -> ColumnElement[bool]:
    """Rows strictly after ``position`` in ``(key, id)`` order."""
    key, last_id = position
    row = tuple_(key_column, id_column)
    bound = tuple_(literal(key, key_column.type), literal(last_id, id_column.type))
    return row < bound if descending else row > bound


class SqlParams:
    """Positional parameters (``$1``, ``$2``...) for a statement written as SQL text, for the
    readers that go straight through asyncpg (ReadConnections.fetch), and the ``WHERE``
    conditions that use them. Calling it with a value returns the placeholder, so no value is
    ever spliced into the SQL."""

    def __init__(self) -> None:
        self.values: list[object] = []
        self.conditions: list[str] = []

    def __call__(self, value: object, cast: str = "") -> str:
        self.values.append(value)
        return f"${len(self.values)}{f'::{cast}' if cast else ''}"

    def where(self, condition: str) -> None:
        """Add a condition (SQL text from the reader's own fragments and placeholders)."""
        self.conditions.append(condition)


def after_sql(
    key: str, key_type: str, position: tuple[object, UUID], *, descending: bool, params: SqlParams
) -> str:
    """``after()`` as SQL text: rows strictly after ``position`` in ``(key, id)`` order.
    ``key`` is a column name from the reader's own constants, never from input."""
    key_value, last_id = position
    bound = f"({params(key_value, key_type)}, {params(last_id, 'uuid')})"
    return f"({key}, id) {'<' if descending else '>'} {bound}"


@dataclass(frozen=True, slots=True)
class Keyset:
    """One order of a listing: rows by ``(key, id)``, the key column's name, its direction, the
    tag its cursors carry (a cursor of another order is refused), the parser of a cursor's key,
    and for SQL text the key's PostgreSQL type (a Core select types it by its column)."""

    tag: str
    key: str
    parse_key: Callable[[str], object]
    descending: bool = False
    key_type: str = ""

    def position(self, cursor: str | None) -> tuple[object, UUID] | None:
        return None if cursor is None else decode_cursor(cursor, self.tag, self.parse_key)

    def page(self, rows: Sequence[Any], limit: int, to_item: Callable[[Any], T]) -> Page[T]:
        """Rows fetched as ``limit + 1``: the first ``limit`` as items, and when there was one
        more, the cursor after the last item."""
        cursor = None
        if len(rows) > limit:
            last = rows[limit - 1]
            cursor = encode_cursor(self.tag, last[self.key], last["id"])
        return Page(items=[to_item(row) for row in rows[:limit]], next_cursor=cursor)


def by_sort(*orders: tuple[S, str, Callable[[str], object], bool, str]) -> dict[S, Keyset]:
    """A SQL-text listing's sorts, each ``(sort, key column, key parser, descending, the
    column's PostgreSQL type)``, as Keysets tagged with the sort's name."""
    return {
        sort: Keyset(sort.value, key, parse_key, descending=descending, key_type=key_type)
        for sort, key, parse_key, descending, key_type in orders
    }


def page_sql(select: str, params: SqlParams, keyset: Keyset, *, limit: int) -> str:
    """``select`` filtered by the conditions in ``params`` in ``(key, id)`` order: one row more
    than a page, to know whether there is a next one."""
    where = f" WHERE {' AND '.join(params.conditions)}" if params.conditions else ""
    direction = "DESC" if keyset.descending else "ASC"
    order = f"ORDER BY {keyset.key} {direction}, id {direction}"
    return f"{select}{where} {order} LIMIT {params(limit + 1)}"


async def sql_page(
    fetch: Callable[..., Awaitable[Sequence[Any]]],
    select: str,
    params: SqlParams,
    keyset: Keyset,
    *,
    limit: int,
    cursor: str | None,
    to_item: Callable[[Any], T],
) -> Page[T]:
    """A page of a SQL-text listing (``fetch``: ReadConnections.fetch): ``select`` filtered by
    the conditions in ``params``, after the cursor's position."""
    position = keyset.position(cursor)
    if position is not None:
        key, key_type, descending = keyset.key, keyset.key_type, keyset.descending
        params.where(after_sql(key, key_type, position, descending=descending, params=params))
    rows = await fetch(page_sql(select, params, keyset, limit=limit), *params.values)
    return keyset.page(rows, limit, to_item)


async def core_page(
    execute: Callable[[Select[Any]], Awaitable[Result[Any]]],
    statement: Select[Any],
    keyset: Keyset,
    *,
    limit: int,
    cursor: str | None,
    to_item: Callable[[Any], T],
) -> Page[T]:
    """A page of a Core listing (``execute``: a session's or ReadConnections'): ``statement``,
    filtered already, selects the key column and ``id``."""
    key, id_ = statement.selected_columns[keyset.key], statement.selected_columns["id"]
    position = keyset.position(cursor)
    if position is not None:
        statement = statement.where(after(key, id_, position, descending=keyset.descending))
    order = (key.desc(), id_.desc()) if keyset.descending else (key.asc(), id_.asc())
    result = await execute(statement.order_by(*order).limit(limit + 1))
    return keyset.page(result.mappings().all(), limit, to_item)


def escape_like(term: str) -> str:
    """``term`` matched literally inside a LIKE pattern (with ``ESCAPE '\\'``)."""
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
