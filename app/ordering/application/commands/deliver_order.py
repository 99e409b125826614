from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from app.ordering.application.fulfilment import load_for_fulfilment
from app.ordering.application.ports.order_repository import OrderRepository
from app.ordering.application.snapshot import OrderSnapshot, snapshot
from app.shared.application.actor import ActorProvider
from app.shared.application.ports import Clock, TransactionManager


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliverOrderRequest:
    order_id: UUID


DeliverOrderResponse = OrderSnapshot


class DeliverOrder:
    """Staff and above confirm that a shipped order arrived."""

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

    async def __call__(self, request: DeliverOrderRequest) -> DeliverOrderResponse:
        order = await load_for_fulfilment(self._actors, self._orders, request.order_id)
        order.deliver(at=self._clock.now())
        await self._transaction.commit()
        return snapshot(order)
