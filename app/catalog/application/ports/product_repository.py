from __future__ import annotations

from typing import Protocol

from app.catalog.domain.product import Product
from app.catalog.domain.value_objects import ProductId


class ProductRepository(Protocol):
    """Command-side gateway for whole Product aggregates."""

    def add(self, product: Product) -> None: ...

    async def get(self, product_id: ProductId) -> Product | None: ...
