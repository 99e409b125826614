from __future__ import annotations

from dataclasses import dataclass
from typing import Final, cast
from uuid import UUID

from app.ordering.application.ports.order_repository import OrderRepository
from app.ordering.application.snapshot import OrderSnapshot, snapshot
from app.ordering.domain.basket import Basket
from app.ordering.domain.order import Order, PricedItem
from app.ordering.domain.policy import OrderingPolicy
from app.ordering.domain.ports import OrderIdGenerator
from app.shared.application.actor import ActorProvider, require_role
from app.shared.application.idempotency import IdempotencyStore, Idempotent, claim
from app.shared.application.ports import Clock, TransactionManager
from app.shared.application.rate_limit import RateLimiter, RateLimitRule
from app.shared.application.stock import ReservedStock, StockRequest, StockReservations
from app.shared.domain.role import Role

OPERATION: Final = "ordering.place_order"


@dataclass(frozen=True, slots=True, kw_only=True)
class PlaceOrderLine:
    product_id: UUID
    quantity: int


@dataclass(frozen=True, slots=True, kw_only=True)
class PlaceOrderRequest:
    lines: tuple[PlaceOrderLine, ...]
    idempotency_key: str | None = None


PlaceOrderResponse = Idempotent[OrderSnapshot]


class PlaceOrder:
    """Any signed-in user orders 1 to 50 products, 1 to 1000 of each (a product listed twice is
    merged into one line). Stock is reserved in the same transaction, the catalog's sku, name and
    price are captured, and the order awaits payment. With an Idempotency-Key, a retry gets the
    first response and reserves nothing. New orders are rate limited per customer (429).

    A customer (not staff) holds at most policy.max_pending_orders unpaid orders and
    policy.max_pending_units units in them (409), and orders at most
    policy.max_units_per_product of one product (422): reserved stock is stock nobody else can
    buy, so one account must not be able to take the catalog off sale."""

    def __init__(  # noqa: PLR0913, PLR0917 - each port is a distinct collaborator
        self,
        actors: ActorProvider,
        orders: OrderRepository,
        stock: StockReservations,
        idempotency: IdempotencyStore,
        new_order_id: OrderIdGenerator,
        limiter: RateLimiter,
        transaction: TransactionManager,
        clock: Clock,
        policy: OrderingPolicy,
    ) -> None:
        self._actors = actors
        self._orders = orders
        self._stock = stock
        self._idempotency = idempotency
        self._new_order_id = new_order_id
        self._limiter = limiter
        self._transaction = transaction
        self._clock = clock
        self._policy = policy

    async def __call__(self, request: PlaceOrderRequest) -> PlaceOrderResponse:
        actor = await self._actors.current()
        require_role(actor, Role.CUSTOMER)
        # Bad input fails before any I/O, and the key fingerprints the merged (canonical) basket.
        basket = Basket.of((line.product_id, line.quantity) for line in request.lines)
        key, stored = await claim(
            self._idempotency,
            owner=actor.user_id,
            operation=OPERATION,
            key=request.idempotency_key,
            request={
                "lines": sorted([str(item.product_id), item.quantity] for item in basket.items)
            },
        )
        if stored is not None:
            return Idempotent(cast("OrderSnapshot", stored), replayed=True)
        # Counted after the replay check: a client retrying a lost response places no new order.
        await self._limiter.hit(RateLimitRule.PLACE_ORDER_PER_USER, str(actor.user_id))
        if not actor.has_role(Role.STAFF):
            # Counted under a per-customer lock held until the commit: orders placed at once
            # are admitted in turn, so none slips past the bounds.
            self._policy.admit(basket, await self._orders.pending_holdings(actor.user_id))

        reserved = await self._stock.reserve(
            [
                StockRequest(product_id=item.product_id, quantity=item.quantity)
                for item in basket.items
            ]
        )
        facts = {stock.product_id: stock for stock in reserved}
        order = Order.place(
            order_id=self._new_order_id(),
            customer_id=actor.user_id,
            # Lines keep the customer's order, whatever order the adapter locked products in.
            items=[_priced(facts[item.product_id], item.quantity) for item in basket.items],
            at=self._clock.now(),
        )
        self._orders.add(order)
        response = snapshot(order)
        if key is not None:
            await self._idempotency.complete(key, response)
        await self._transaction.commit()
        return Idempotent(response)


def _priced(stock: ReservedStock, quantity: int) -> PricedItem:
    return PricedItem(
        product_id=stock.product_id,
        sku=stock.sku,
        name=stock.name,
        unit_price=stock.unit_price,
        quantity=quantity,
    )
