"""Who may see and change which order. Routers never decide this; interactors ask here.

An order is visible to its customer and to staff and above. Callers who may not see an order get
OrderNotFoundError (404), never 403: a customer cannot probe which order ids exist.
"""

from __future__ import annotations

from typing import Final
from uuid import UUID

from app.ordering.application.errors import CancellationNotAllowedError, NotOrderOwnerError
from app.ordering.domain.errors import OrderNotFoundError
from app.ordering.domain.order import Order
from app.ordering.domain.value_objects import OrderStatus
from app.shared.application.actor import Actor
from app.shared.domain.role import Role

# Roles for the order operations that are not the customer's own.
FULFILS_ORDERS: Final = Role.STAFF  # ship, deliver, search, cancel pending orders
REFUNDS_ORDERS: Final = Role.ADMIN  # cancel paid orders
SEES_SALES: Final = Role.ADMIN  # revenue figures are management information


def may_view(actor: Actor, customer_id: UUID) -> bool:
    return actor.user_id == customer_id or actor.has_role(FULFILS_ORDERS)


def not_found(order_id: UUID) -> OrderNotFoundError:
    return OrderNotFoundError("No such order.", order_id=str(order_id))


def visible_order(actor: Actor, order: Order | None, order_id: UUID) -> Order:
    """The order if the actor may see it; OrderNotFoundError otherwise (missing or not theirs)."""
    if order is None or not may_view(actor, order.customer_id):
        raise not_found(order_id)
    return order


def ensure_owner(actor: Actor, order: Order) -> None:
    """Only the customer pays for an order. Staff already see the order, so they get a 403."""
    if order.customer_id != actor.user_id:
        raise NotOrderOwnerError("Only the customer who placed an order can pay for it.")


def ensure_may_cancel(actor: Actor, order: Order) -> None:
    """Customers cancel their own orders and staff any order while payment is pending; a paid
    order means a refund, which only admins grant."""
    if order.status is OrderStatus.PAID and not actor.has_role(REFUNDS_ORDERS):
        raise CancellationNotAllowedError(
            "A paid order is refunded when cancelled; only an admin can do that."
        )
