"""The published contract between ordering (which reserves stock) and catalog (which owns it).

Both contexts depend on this module, neither on the other; the composition root wires catalog's
adapter into ordering's use cases. Reservations join the caller's unit of work, so stock and the
order that took it commit or roll back together.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol
from uuid import UUID

from app.shared.domain.errors import ConflictError
from app.shared.domain.money import Money


class OutOfStockError(ConflictError):
    code = "out_of_stock"


class ProductUnavailableError(ConflictError):
    code = "product_unavailable"


@dataclass(frozen=True, slots=True)
class StockRequest:
    product_id: UUID
    quantity: int


@dataclass(frozen=True, slots=True)
class ReservedStock:
    """What the product was when it was reserved: the order keeps these facts."""

    product_id: UUID
    sku: str
    name: str
    unit_price: Money
    quantity: int


class StockReservations(Protocol):
    async def reserve(self, requests: list[StockRequest]) -> list[ReservedStock]:
        """Take stock for every request or none (ProductUnavailableError, OutOfStockError).

        Locks products in a fixed order (by id), so concurrent orders cannot deadlock.
        """
        ...

    async def release(self, requests: list[StockRequest]) -> None:
        """Give stock back (cancelled or expired orders)."""
        ...
