"""Identifiers, statuses and the limits of an order's lines."""

from __future__ import annotations

from enum import StrEnum
from typing import Final, NewType
from uuid import UUID

from app.ordering.domain.errors import InvalidLineCountError, InvalidQuantityError

OrderId = NewType("OrderId", UUID)

MIN_QUANTITY: Final = 1
MAX_QUANTITY: Final = 1000
MIN_LINES: Final = 1
MAX_LINES: Final = 50


class OrderStatus(StrEnum):
    PENDING_PAYMENT = "pending_payment"
    PAID = "paid"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


def ensure_quantity(quantity: int, *, product_id: UUID) -> None:
    # bool is an int: True must not order one item.
    if (
        isinstance(quantity, bool)
        or not isinstance(quantity, int)
        or not MIN_QUANTITY <= quantity <= MAX_QUANTITY
    ):
        raise InvalidQuantityError(
            f"A line orders {MIN_QUANTITY} to {MAX_QUANTITY} items.",
            product_id=str(product_id),
            min=MIN_QUANTITY,
            max=MAX_QUANTITY,
        )


def ensure_line_count(count: int) -> None:
    if not MIN_LINES <= count <= MAX_LINES:
        raise InvalidLineCountError(
            f"An order has {MIN_LINES} to {MAX_LINES} lines (one per product).",
            count=count,
            min=MIN_LINES,
            max=MAX_LINES,
        )
