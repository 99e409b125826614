"""The order lifecycle as a table: (status, action) -> next status. Anything absent is refused.

pending_payment -> paid -> shipped -> delivered
pending_payment -> cancelled (customer or staff) | expired (the system, after the payment window)
paid -> cancelled (admins only: a refund is due)

Who may take an allowed transition is an application concern (see application/permissions.py);
the domain only says which transitions exist.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from app.ordering.domain.errors import InvalidOrderTransitionError
from app.ordering.domain.value_objects import OrderStatus


class OrderAction(StrEnum):
    PAY = "pay"
    CANCEL = "cancel"
    EXPIRE = "expire"
    SHIP = "ship"
    DELIVER = "deliver"


_S = OrderStatus
TRANSITIONS: Final[Mapping[tuple[OrderStatus, OrderAction], OrderStatus]] = MappingProxyType(
    {
        (_S.PENDING_PAYMENT, OrderAction.PAY): _S.PAID,
        (_S.PENDING_PAYMENT, OrderAction.CANCEL): _S.CANCELLED,
        (_S.PENDING_PAYMENT, OrderAction.EXPIRE): _S.EXPIRED,
        (_S.PAID, OrderAction.SHIP): _S.SHIPPED,
        (_S.PAID, OrderAction.CANCEL): _S.CANCELLED,
        (_S.SHIPPED, OrderAction.DELIVER): _S.DELIVERED,
    }
)

FINAL_STATUSES: Final = frozenset(
    status for status in OrderStatus if not any(key[0] is status for key in TRANSITIONS)
)


def can_transition(current: OrderStatus, action: OrderAction) -> bool:
    return (current, action) in TRANSITIONS


def next_status(current: OrderStatus, action: OrderAction) -> OrderStatus:
    try:
        return TRANSITIONS[current, action]
    except KeyError:
        raise InvalidOrderTransitionError(
            f"A {current.value} order cannot be {_PAST[action]}.",
            current_status=current.value,
            action=action.value,
        ) from None


_PAST: Final = {
    OrderAction.PAY: "paid",
    OrderAction.CANCEL: "cancelled",
    OrderAction.EXPIRE: "expired",
    OrderAction.SHIP: "shipped",
    OrderAction.DELIVER: "delivered",
}
