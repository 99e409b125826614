from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from app.ordering.application.permissions import ensure_may_cancel, visible_order
from app.ordering.application.ports.order_repository import OrderRepository
from app.ordering.application.snapshot import OrderSnapshot, snapshot
from app.ordering.application.stock import stock_held_by
from app.ordering.domain.state_machine import OrderAction
from app.ordering.domain.value_objects import OrderId
from app.shared.application.actor import ActorProvider
from app.shared.application.ports import Clock, TransactionManager
from app.shared.application.stock import StockReservations


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelOrderRequest:
    order_id: UUID
    reason: str | None = None


CancelOrderResponse = OrderSnapshot


class CancelOrder:
    """The customer, or staff, cancel an order awaiting payment; admins also cancel a paid order
    (a refund is due, see OrderCancelled). The stock goes back in the same transaction. Shipped,
    delivered and closed orders cannot be cancelled (409)."""

    def __init__(
        self,
        actors: ActorProvider,
        orders: OrderRepository,
        stock: StockReservations,
        transaction: TransactionManager,
        clock: Clock,
    ) -> None:
        self._actors = actors
        self._orders = orders
        self._stock = stock
        self._transaction = transaction
        self._clock = clock

    async def __call__(self, request: CancelOrderRequest) -> CancelOrderResponse:
        actor = await self._actors.current()
        order_id = OrderId(request.order_id)
        order = visible_order(actor, await self._orders.get(order_id, for_update=True), order_id)
        # 409 for an order nobody may cancel any more, before the 403 for "not you".
        order.ensure_can(OrderAction.CANCEL)
        ensure_may_cancel(actor, order)
        order.cancel(request.reason, at=self._clock.now())
        await self._stock.release(stock_held_by(order))
        await self._transaction.commit()
        return snapshot(order)
