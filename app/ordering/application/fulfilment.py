from __future__ import annotations

from uuid import UUID

from app.ordering.application.permissions import FULFILS_ORDERS, not_found
from app.ordering.application.ports.order_repository import OrderRepository
from app.ordering.domain.order import Order
from app.ordering.domain.value_objects import OrderId
from app.shared.application.actor import ActorProvider, require_role


async def load_for_fulfilment(
    actors: ActorProvider, orders: OrderRepository, order_id: UUID
) -> Order:
    """The order staff are about to ship or deliver, locked for the change.

    Authorization comes first (403 before any lookup), so customers cannot probe which order
    ids exist.
    """
    require_role(await actors.current(), FULFILS_ORDERS)
    order = await orders.get(OrderId(order_id), for_update=True)
    if order is None:
        raise not_found(order_id)
    return order
