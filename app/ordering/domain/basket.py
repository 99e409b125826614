"""What a customer asks for, before stock is reserved: products and quantities.

Duplicate products are merged (their quantities summed) rather than refused: a client that adds
the same product twice means "more of it". The quantity bound applies to the merged sum, and the
line-count bound to the merged lines, so an order never holds two lines for one product.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from uuid import UUID

from app.ordering.domain.value_objects import ensure_line_count, ensure_quantity


@dataclass(frozen=True, slots=True)
class BasketItem:
    product_id: UUID
    quantity: int

    def __post_init__(self) -> None:
        ensure_quantity(self.quantity, product_id=self.product_id)


@dataclass(frozen=True, slots=True)
class Basket:
    items: tuple[BasketItem, ...]

    def __post_init__(self) -> None:
        ensure_line_count(len(self.items))

    @classmethod
    def of(cls, requested: Iterable[tuple[UUID, int]]) -> Basket:
        """Merge duplicates in first-seen order; each requested quantity is checked on its own
        first, so a negative quantity cannot hide inside a sum."""
        merged: dict[UUID, int] = {}
        for product_id, quantity in requested:
            ensure_quantity(quantity, product_id=product_id)
            merged[product_id] = merged.get(product_id, 0) + quantity
        return cls(
            tuple(BasketItem(product_id, quantity) for product_id, quantity in merged.items())
        )
