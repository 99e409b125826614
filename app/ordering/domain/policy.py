from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from app.ordering.domain.basket import Basket
from app.ordering.domain.errors import (
    TooManyPendingOrdersError,
    TooManyPendingUnitsError,
    TooManyUnitsOfProductError,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class PendingHoldings:
    """What a customer holds unpaid: orders awaiting payment and the units they reserve."""

    orders: int
    units: int


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderingPolicy:
    """Business terms that operators may tune without touching the rules."""

    # Stock is held for a pending order this long; afterwards the order may be expired.
    payment_window: timedelta = timedelta(minutes=30)
    # A customer's unpaid orders hold stock nobody else can buy: without bounds one free account
    # could reserve the whole catalog, and cancelling and re-ordering would keep it held.
    max_pending_orders: int = 3
    max_pending_units: int = 50
    max_units_per_product: int = 10

    def admit(self, basket: Basket, held: PendingHoldings) -> None:
        """Raise unless a customer holding ``held`` may place ``basket`` as well."""
        for item in basket.items:
            if item.quantity > self.max_units_per_product:
                raise TooManyUnitsOfProductError(
                    f"At most {self.max_units_per_product} of one product per order.",
                    product_id=str(item.product_id),
                    max_units_per_product=self.max_units_per_product,
                )
        if held.orders >= self.max_pending_orders:
            raise TooManyPendingOrdersError(
                f"You have {held.orders} orders awaiting payment; pay or cancel one first.",
                max_pending_orders=self.max_pending_orders,
            )
        units = sum(item.quantity for item in basket.items)
        if held.units + units > self.max_pending_units:
            raise TooManyPendingUnitsError(
                f"Your unpaid orders would hold {held.units + units} units; at most "
                f"{self.max_pending_units} may await payment at once.",
                held_units=held.units,
                max_pending_units=self.max_pending_units,
            )
