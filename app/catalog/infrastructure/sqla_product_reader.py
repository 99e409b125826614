"""Query gateway for products: Core selects into read models, keyset pagination."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import ColumnElement, Select, or_, select

from app.catalog.application.ports.product_reader import (
    ProductFilter,
    ProductPage,
    ProductSort,
    ProductView,
)
from app.catalog.domain.value_objects import ProductId
from app.catalog.infrastructure.tables import products_table
from app.shared.domain.money import format_amount
from app.shared.infrastructure.database import ReadConnections
from app.shared.infrastructure.keyset import (
    after,
    datetime_key,
    decimal_key,
    decode_cursor,
    encode_cursor,
    text_key,
)

_c = products_table.c
_COLUMNS = (
    _c.id, _c.sku, _c.name, _c.description, _c.price_amount, _c.price_currency,
    _c.stock_on_hand, _c.status, _c.version, _c.created_at, _c.updated_at,
)  # fmt: skip
# sort -> (key column, descending)
_ORDER: dict[ProductSort, tuple[Any, bool]] = {
    ProductSort.NAME: (_c.name, False),
    ProductSort.NAME_DESC: (_c.name, True),
    ProductSort.PRICE: (_c.price_amount, False),
    ProductSort.PRICE_DESC: (_c.price_amount, True),
    ProductSort.NEWEST: (_c.created_at, True),
    ProductSort.OLDEST: (_c.created_at, False),
}


_KEY_PARSERS: dict[ProductSort, Callable[[str], object]] = {
    ProductSort.NAME: text_key,
    ProductSort.NAME_DESC: text_key,
    ProductSort.PRICE: decimal_key,
    ProductSort.PRICE_DESC: decimal_key,
    ProductSort.NEWEST: datetime_key,
    ProductSort.OLDEST: datetime_key,
}


def _escape_like(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class SqlaProductReader:
    def __init__(self, reads: ReadConnections) -> None:
        self._reads = reads

    async def get(self, product_id: ProductId) -> ProductView | None:
        return await self._one(_c.id == product_id)

    async def get_by_sku(self, sku: str) -> ProductView | None:
        return await self._one(_c.sku == sku)

    async def _one(self, condition: ColumnElement[bool]) -> ProductView | None:
        row = (await self._reads.execute(select(*_COLUMNS).where(condition))).mappings().first()
        return None if row is None else to_view(row)

    async def list(
        self, *, filter_: ProductFilter, sort: ProductSort, limit: int, cursor: str | None
    ) -> ProductPage:
        key_column, descending = _ORDER[sort]
        statement = _filtered(select(*_COLUMNS), filter_)
        if cursor is not None:
            position = decode_cursor(cursor, sort.value, _KEY_PARSERS[sort])
            statement = statement.where(after(key_column, _c.id, position, descending=descending))
        order = (key_column.desc(), _c.id.desc()) if descending else (key_column, _c.id)
        rows = (
            (await self._reads.execute(statement.order_by(*order).limit(limit + 1)))
            .mappings()
            .all()
        )
        items = [to_view(row) for row in rows[:limit]]
        next_cursor = None
        if len(rows) > limit:
            last = rows[limit - 1]
            next_cursor = encode_cursor(sort.value, last[key_column.name], last["id"])
        return ProductPage(items=items, next_cursor=next_cursor)


def _filtered(statement: Select[Any], filter_: ProductFilter) -> Select[Any]:
    conditions: list[ColumnElement[bool]] = []
    if filter_.status is not None:
        conditions.append(_c.status == filter_.status)
    if filter_.text:
        pattern = f"%{_escape_like(filter_.text.strip())}%"
        conditions.append(
            or_(_c.name.ilike(pattern, escape="\\"), _c.sku.ilike(pattern, escape="\\"))
        )
    if filter_.currency:
        conditions.append(_c.price_currency == filter_.currency.upper())
    if filter_.min_price is not None:
        conditions.append(_c.price_amount >= filter_.min_price)
    if filter_.max_price is not None:
        conditions.append(_c.price_amount <= filter_.max_price)
    if filter_.in_stock is True:
        conditions.append(_c.stock_on_hand > 0)
    elif filter_.in_stock is False:
        conditions.append(_c.stock_on_hand == 0)
    return statement.where(*conditions)


def to_view(row: Any) -> ProductView:  # noqa: ANN401 - a SQLAlchemy RowMapping
    return ProductView(
        id=str(row["id"]),
        sku=row["sku"],
        name=row["name"],
        description=row["description"],
        price_amount=format_amount(row["price_amount"], row["price_currency"]),
        currency=row["price_currency"],
        stock_on_hand=row["stock_on_hand"],
        in_stock=row["stock_on_hand"] > 0,
        status=str(row["status"].value),
        version=row["version"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )
