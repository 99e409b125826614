from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Protocol, TypedDict

from app.catalog.domain.value_objects import ProductId, ProductStatus
from app.shared.application.pagination import Page


class ProductView(TypedDict):
    """Read model of a product; amounts are decimal strings (JSON-safe, never floats)."""

    id: str
    sku: str
    name: str
    description: str
    price_amount: str
    currency: str
    stock_on_hand: int
    in_stock: bool
    status: str
    version: int
    created_at: datetime
    updated_at: datetime


class ProductSort(StrEnum):
    NAME = "name"
    NAME_DESC = "-name"
    PRICE = "price"
    PRICE_DESC = "-price"
    NEWEST = "newest"
    OLDEST = "oldest"


@dataclass(frozen=True, slots=True, kw_only=True)
class ProductFilter:
    text: str | None = None
    min_price: Decimal | None = None
    max_price: Decimal | None = None
    currency: str | None = None
    in_stock: bool | None = None
    status: ProductStatus | None = ProductStatus.ACTIVE  # None: every status (staff only)


class ProductReader(Protocol):
    """Query-side gateway: projections, possibly served from a cache."""

    async def get(self, product_id: ProductId) -> ProductView | None: ...

    async def get_by_sku(self, sku: str) -> ProductView | None: ...

    async def list(
        self, *, filter_: ProductFilter, sort: ProductSort, limit: int, cursor: str | None
    ) -> Page[ProductView]: ...
