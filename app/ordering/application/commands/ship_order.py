from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from app.ordering.application.permissions import FULFILS_ORDERS, not_found
from app.ordering.application.ports.order_repository import OrderRepository
from app.ordering.application.snapshot import OrderSnapshot, snapshot
from app.ordering.domain.value_objects import OrderId
from app.shared.application.actor import ActorProvider, require_role
from app.shared.application.ports import Clock, TransactionManager


@dataclass(frozen=True, slots=True, kw_only=True)
class ShipOrderRequest:
    order_id: UUID


ShipOrderResponse = OrderSnapshot


class ShipOrder:
    """Staff and above hand a paid order to the carrier."""

    def __init__(
        self,
        actors: ActorProvider,
        orders: OrderRepository,
        transaction: TransactionManager,
        clock: Clock,
    ) -> None:
        self._actors = actors
        self._orders = orders
        self._transaction = transaction
        self._clock = clock

    async def __call__(self, request: ShipOrderRequest) -> ShipOrderResponse:
        # 403 before any lookup: customers cannot probe which order ids exist.
        require_role(await self._actors.current(), FULFILS_ORDERS)
        order = await self._orders.get(OrderId(request.order_id), for_update=True)
        if order is None:
            raise not_found(request.order_id)
        order.ship(at=self._clock.now())
        await self._transaction.commit()
        return snapshot(order)
