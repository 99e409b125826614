from __future__ import annotations

from typing import Protocol
from uuid import UUID

from app.ordering.domain.order import Order
from app.ordering.domain.policy import PendingHoldings
from app.ordering.domain.value_objects import OrderId


class OrderRepository(Protocol):
    """Command-side gateway: loads and stores whole Order aggregates (with their lines)."""

    def add(self, order: Order) -> None: ...

    async def get(self, order_id: OrderId, *, for_update: bool = False) -> Order | None:
        """``for_update`` locks the order row until the unit of work ends (state changes)."""
        ...

    async def pending_holdings(self, customer_id: UUID) -> PendingHoldings:
        """The customer's orders awaiting payment and the units they hold. Locks the customer
        until the unit of work ends, so two orders placed at once are counted in turn."""
        ...
