"""Query gateway for products: SQL straight into read models, keyset pagination.

Plain SQL through asyncpg (ReadConnections.fetch), like the users' reads: the cache answers
most reads, and what reaches here (a miss, a search, a deep page) should not pay SQLAlchemy
Core's CPU on top of the round trip. Column names are ``products_table``'s
(app/catalog/infrastructure/tables.py).
"""

from __future__ import annotations

from typing import Any

from app.catalog.application.ports.product_reader import (
    ProductFilter,
    ProductSort,
    ProductView,
)
from app.catalog.domain.value_objects import ProductId
from app.shared.application.pagination import Page
from app.shared.domain.money import format_amount
from app.shared.infrastructure.database import ReadConnections
from app.shared.infrastructure.keyset import (
    SqlParams,
    by_sort,
    datetime_key,
    decimal_key,
    escape_like,
    sql_page,
    text_key,
)

_SELECT_VIEW = (
    "SELECT id, sku, name, description, price_amount, price_currency, stock_on_hand, status, "
    "version, created_at, updated_at FROM products"
)
# Sort -> key column, its parser, descending, its PostgreSQL type (for the cursor's parameter).
_ORDER = by_sort(
    (ProductSort.NAME, "name", text_key, False, "varchar"),
    (ProductSort.NAME_DESC, "name", text_key, True, "varchar"),
    (ProductSort.PRICE, "price_amount", decimal_key, False, "numeric"),
    (ProductSort.PRICE_DESC, "price_amount", decimal_key, True, "numeric"),
    (ProductSort.NEWEST, "created_at", datetime_key, True, "timestamptz"),
    (ProductSort.OLDEST, "created_at", datetime_key, False, "timestamptz"),
)


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
    ) -> Page[ProductView]:
        params = _filtered(filter_)
        return await sql_page(
            self._reads.fetch,
            _SELECT_VIEW,
            params,
            _ORDER[sort],
            limit=limit,
            cursor=cursor,
            to_item=to_view,
        )


def _filtered(filter_: ProductFilter) -> SqlParams:
    param = SqlParams()
    if filter_.status is not None:
        param.where(f"status = {param(filter_.status.value)}")
    if filter_.text:
        pattern = param(f"%{escape_like(filter_.text.strip())}%")
        param.where(f"(name ILIKE {pattern} ESCAPE '\\' OR sku ILIKE {pattern} ESCAPE '\\')")
    if filter_.currency:
        param.where(f"price_currency = {param(filter_.currency.upper())}")
    if filter_.min_price is not None:
        param.where(f"price_amount >= {param(filter_.min_price, 'numeric')}")
    if filter_.max_price is not None:
        param.where(f"price_amount <= {param(filter_.max_price, 'numeric')}")
    if filter_.in_stock is True:
        param.where("stock_on_hand > 0")
    elif filter_.in_stock is False:
        param.where("stock_on_hand = 0")
    return param


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
