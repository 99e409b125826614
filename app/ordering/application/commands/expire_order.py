from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from app.ordering.application.permissions import not_found
from app.ordering.application.ports.order_repository import OrderRepository
from app.ordering.application.snapshot import OrderSnapshot, snapshot
from app.ordering.application.stock import stock_held_by
from app.ordering.domain.policy import OrderingPolicy
from app.ordering.domain.value_objects import OrderId
from app.shared.application.ports import Clock, TransactionManager
from app.shared.application.stock import StockReservations


@dataclass(frozen=True, slots=True, kw_only=True)
class ExpireOrderRequest:
    order_id: UUID


ExpireOrderResponse = OrderSnapshot


class ExpireOrder:
    """System use case (a scheduler, no actor): end one pending order whose payment window has
    passed and give its stock back. A paid or closed order is left alone (409), as is one still
    within its window (order_not_overdue), so a late or repeated run does no harm."""

    def __init__(
        self,
        orders: OrderRepository,
        stock: StockReservations,
        transaction: TransactionManager,
        clock: Clock,
        policy: OrderingPolicy,
    ) -> None:
        self._orders = orders
        self._stock = stock
        self._transaction = transaction
        self._clock = clock
        self._policy = policy

    async def __call__(self, request: ExpireOrderRequest) -> ExpireOrderResponse:
        # The row lock serialises this with a payment in flight: whichever comes second sees
        # the other's outcome and is refused.
        order = await self._orders.get(OrderId(request.order_id), for_update=True)
        if order is None:
            raise not_found(request.order_id)
        order.expire(at=self._clock.now(), payment_window=self._policy.payment_window)
        await self._stock.release(stock_held_by(order))
        await self._transaction.commit()
        return snapshot(order)
