"""Query gateway for products: SQL straight into read models, keyset pagination.

Plain SQL through asyncpg (ReadConnections.fetch), like the users' reads: the cache answers
most reads, and what reaches here (a miss, a search, a deep page) should not pay SQLAlchemy
Core's CPU on top of the round trip. Column names are ``products_table``'s
(app/catalog/infrastructure/tables.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from app.catalog.application.ports.product_reader import (
    ProductFilter,
    ProductPage,
    ProductSort,
    ProductView,
)
from app.catalog.domain.value_objects import ProductId
from app.shared.domain.money import format_amount
from app.shared.infrastructure.database import ReadConnections
from app.shared.infrastructure.keyset import (
    SqlParams,
    after_sql,
    datetime_key,
    decimal_key,
    decode_cursor,
    escape_like,
    next_cursor,
    page_sql,
    text_key,
)

_SELECT_VIEW = (
    "SELECT id, sku, name, description, price_amount, price_currency, stock_on_hand, status, "
    "version, created_at, updated_at FROM products"
)
# sort -> (key column, its PostgreSQL type for the cursor's parameter, descending, key parser)
_ORDER: dict[ProductSort, tuple[str, str, bool, Callable[[str], object]]] = {
    ProductSort.NAME: ("name", "varchar", False, text_key),
    ProductSort.NAME_DESC: ("name", "varchar", True, text_key),
    ProductSort.PRICE: ("price_amount", "numeric", False, decimal_key),
    ProductSort.PRICE_DESC: ("price_amount", "numeric", True, decimal_key),
    ProductSort.NEWEST: ("created_at", "timestamptz", True, datetime_key),
    ProductSort.OLDEST: ("created_at", "timestamptz", False, datetime_key),
}


class SqlaProductReader:
    def __init__(self, reads: ReadConnections) -> None:
        self._reads = reads

    async def get(self, product_id: ProductId) -> ProductView | None:
        rows = await self._reads.fetch(f"{_SELECT_VIEW} WHERE id = $1", product_id)
        return to_view(rows[0]) if rows else None

    async def get_by_sku(self, sku: str) -> ProductView | None:
        rows = await self._reads.fetch(f"{_SELECT_VIEW} WHERE sku = $1", sku)
        return to_view(rows[0]) if rows else None

    async def list(
        self, *, filter_: ProductFilter, sort: ProductSort, limit: int, cursor: str | None
    ) -> ProductPage:
        key, key_type, descending, parse_key = _ORDER[sort]
        param = SqlParams()
        conditions = _conditions(filter_, param)
        if cursor is not None:
            position = decode_cursor(cursor, sort.value, parse_key)
            conditions.append(
                after_sql(key, key_type, position, descending=descending, params=param)
            )
        sql = page_sql(
            _SELECT_VIEW, conditions, key=key, descending=descending, limit=limit, params=param
        )
        rows = await self._reads.fetch(sql, *param.values)
        items = [to_view(row) for row in rows[:limit]]
        return ProductPage(items=items, next_cursor=next_cursor(rows, limit, sort.value, key))


def _conditions(filter_: ProductFilter, param: SqlParams) -> list[str]:
    conditions: list[str] = []
    if filter_.status is not None:
        conditions.append(f"status = {param(filter_.status.value)}")
    if filter_.text:
        pattern = param(f"%{escape_like(filter_.text.strip())}%")
        conditions.append(f"(name ILIKE {pattern} ESCAPE '\\' OR sku ILIKE {pattern} ESCAPE '\\')")
    if filter_.currency:
        conditions.append(f"price_currency = {param(filter_.currency.upper())}")
    if filter_.min_price is not None:
        conditions.append(f"price_amount >= {param(filter_.min_price, 'numeric')}")
    if filter_.max_price is not None:
        conditions.append(f"price_amount <= {param(filter_.max_price, 'numeric')}")
    if filter_.in_stock is True:
        conditions.append("stock_on_hand > 0")
    elif filter_.in_stock is False:
        conditions.append("stock_on_hand = 0")
    return conditions


def to_view(row: Any) -> ProductView:  # noqa: ANN401 - an asyncpg Record
    return ProductView(
        id=str(row["id"]),
        sku=row["sku"],
        name=row["name"],
        description=row["description"],
        price_amount=format_amount(row["price_amount"], row["price_currency"]),
        currency=row["price_currency"],
        stock_on_hand=row["stock_on_hand"],
        in_stock=row["stock_on_hand"] > 0,
        status=row["status"],
        version=row["version"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )
