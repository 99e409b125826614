"""Keyset (cursor) pagination shared by every query gateway.

A page ends with an opaque cursor: base64url JSON of ``[sort, key, last id]``. The next page is
``WHERE (key, id) > (cursor key, cursor id)`` (``<`` when descending) on an index over
``(key, id)``: constant cost per page, however deep, and stable under concurrent inserts.
Cursors are untrusted input: anything a reader did not issue is InvalidCursorError (422) before
it can reach PostgreSQL.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar
from uuid import UUID

from sqlalchemy import ColumnElement, literal, tuple_

from app.shared.application.errors import InvalidCursorError

K = TypeVar("K")
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
    readers that go straight through asyncpg (ReadConnections.fetch). Calling it with a value
    returns the placeholder, so no value is ever spliced into the SQL."""

    def __init__(self) -> None:
        self.values: list[object] = []

    def __call__(self, value: object, cast: str = "") -> str:
        self.values.append(value)
        return f"${len(self.values)}{f'::{cast}' if cast else ''}"


def after_sql(
    key: str, key_type: str, position: tuple[object, UUID], *, descending: bool, params: SqlParams
) -> str:
    """``after()`` as SQL text: rows strictly after ``position`` in ``(key, id)`` order.
    ``key`` is a column name from the reader's own constants, never from input."""
    key_value, last_id = position
    bound = f"({params(key_value, key_type)}, {params(last_id, 'uuid')})"
    return f"({key}, id) {'<' if descending else '>'} {bound}"


def page_sql(
    select: str,
    conditions: list[str],
    *,
    key: str,
    descending: bool,
    limit: int,
    params: SqlParams,
) -> str:
    """``select`` filtered by ``conditions`` in ``(key, id)`` order: one row more than a page,
    to know whether there is a next one."""
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    direction = "DESC" if descending else "ASC"
    return f"{select}{where} ORDER BY {key} {direction}, id {direction} LIMIT {params(limit + 1)}"


def next_cursor(rows: Sequence[Any], limit: int, sort: str, key: str) -> str | None:
    """The cursor after the page's last row, when ``page_sql`` found one row more."""
    if len(rows) <= limit:
        return None
    last = rows[limit - 1]
    return encode_cursor(sort, last[key], last["id"])


def escape_like(term: str) -> str:
    """``term`` matched literally inside a LIKE pattern (with ``ESCAPE '\\'``)."""
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
