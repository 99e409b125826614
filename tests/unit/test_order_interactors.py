"""Ordering use cases against autospecced ports: authorization, idempotency, payments, stock."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from unittest.mock import Mock, create_autospec
from uuid import UUID, uuid4

import pytest

from app.ordering.application.commands.cancel_order import CancelOrder, CancelOrderRequest
from app.ordering.application.commands.deliver_order import DeliverOrder, DeliverOrderRequest
from app.ordering.application.commands.expire_order import ExpireOrder, ExpireOrderRequest
from app.ordering.application.commands.pay_order import PayOrder, PayOrderRequest
from app.ordering.application.commands.place_order import (
    PlaceOrder,
    PlaceOrderLine,
    PlaceOrderRequest,
)
from app.ordering.application.commands.ship_order import ShipOrder, ShipOrderRequest
from app.ordering.application.day_range import instants
from app.ordering.application.errors import (
    CancellationNotAllowedError,
    InvalidDateRangeError,
    NotOrderOwnerError,
    PaymentDeclinedError,
    PaymentGatewayError,
)
from app.ordering.application.ports.order_reader import (
    OrderFilter,
    OrderReader,
    OrderSummaryView,
    OrderView,
)
from app.ordering.application.ports.order_repository import OrderRepository
from app.ordering.application.ports.payment_gateway import PaymentGateway, PaymentResult
from app.ordering.application.queries.find_overdue_orders import (
    FindOverdueOrders,
    FindOverdueOrdersRequest,
)
from app.ordering.application.queries.get_order import GetOrder, GetOrderRequest
from app.ordering.application.queries.list_my_orders import ListMyOrders, ListMyOrdersRequest
from app.ordering.application.queries.sales_summary import SalesSummary, SalesSummaryRequest
from app.ordering.application.queries.search_orders import SearchOrders, SearchOrdersRequest
from app.ordering.application.snapshot import snapshot
from app.ordering.domain.errors import (
    InvalidOrderTransitionError,
    InvalidQuantityError,
    OrderNotFoundError,
    OrderNotOverdueError,
    TooManyPendingOrdersError,
    TooManyPendingUnitsError,
    TooManyUnitsOfProductError,
)
from app.ordering.domain.events import OrderCancelled
from app.ordering.domain.order import Order, PricedItem
from app.ordering.domain.policy import OrderingPolicy, PendingHoldings
from app.ordering.domain.value_objects import OrderId, OrderStatus
from app.shared.application.actor import Actor, ActorProvider
from app.shared.application.errors import AuthorizationError, RateLimitedError
from app.shared.application.idempotency import (
    IdempotencyKey,
    IdempotencyStore,
    InvalidIdempotencyKeyError,
)
from app.shared.application.pagination import Page
from app.shared.application.ports import Clock, TransactionManager
from app.shared.application.rate_limit import RateLimiter, RateLimitRule
from app.shared.application.stock import (
    OutOfStockError,
    ReservedStock,
    StockRequest,
    StockReservations,
)
from app.shared.domain.errors import DomainError
from app.shared.domain.money import Money
from app.shared.domain.role import Role

PLACED = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
NOW = PLACED + timedelta(hours=1)
NEW_ORDER_ID = OrderId(UUID("11111111-1111-4111-8111-111111111111"))
ALICE = Actor(user_id=uuid4(), role=Role.CUSTOMER)
BOB = Actor(user_id=uuid4(), role=Role.CUSTOMER)
STAFF = Actor(user_id=uuid4(), role=Role.STAFF)
ADMIN = Actor(user_id=uuid4(), role=Role.ADMIN)
APPROVED_CARD = "4242424242424242"


def make_order(customer: Actor = ALICE, status: OrderStatus = OrderStatus.PENDING_PAYMENT) -> Order:
    order = Order.place(
        order_id=OrderId(uuid4()),
        customer_id=customer.user_id,
        items=[
            PricedItem(
                product_id=uuid4(),
                sku=f"SKU-{n}",
                name="Widget",
                unit_price=Money.of("12.50", "USD"),
                quantity=n,
            )
            for n in (1, 2)
        ],
        at=PLACED,
    )
    order.status = status
    order.pull_events()
    return order


class Ports:
    """Every port of the ordering interactors, autospecced, plus a log of calls in order."""

    def __init__(self, actor: Actor | None = ALICE, *orders: Order) -> None:
        self.actors: Any = create_autospec(ActorProvider, instance=True)
        self.actors.current.return_value = actor
        self.stored = {order.id_: order for order in orders}
        self.locked: list[OrderId] = []
        self.orders: Any = create_autospec(OrderRepository, instance=True)
        self.orders.get.side_effect = self._get
        self.orders.pending_holdings.return_value = PendingHoldings(orders=0, units=0)
        self.policy = OrderingPolicy()
        self.reader: Any = create_autospec(OrderReader, instance=True)
        self.stock: Any = create_autospec(StockReservations, instance=True)
        self.stock.reserve.side_effect = self._reserve
        self.idempotency: Any = create_autospec(IdempotencyStore, instance=True)
        self.idempotency.claim.return_value = None
        self.payments: Any = create_autospec(PaymentGateway, instance=True)
        self.payments.charge.return_value = PaymentResult(approved=True, reference="sandbox_ok")
        self.limiter: Any = create_autospec(RateLimiter, instance=True)
        self.transaction: Any = create_autospec(TransactionManager, instance=True)
        self.clock: Any = create_autospec(Clock, instance=True)
        self.clock.now.return_value = NOW
        self.calls = Mock()
        for name in ("stock", "idempotency", "payments", "transaction", "limiter"):
            self.calls.attach_mock(getattr(self, name), name)
        self.calls.attach_mock(self.orders.pending_holdings, "pending_holdings")

    async def _get(self, order_id: OrderId, *, for_update: bool = False) -> Order | None:
        if for_update:
            self.locked.append(order_id)
        return self.stored.get(order_id)

    @staticmethod
    async def _reserve(requests: list[StockRequest]) -> list[ReservedStock]:
        # Like the real adapter: products in id order, not in the customer's order.
        return [
            ReservedStock(
                product_id=request.product_id,
                sku=f"SKU-{request.product_id.hex[:4]}",
                name="Widget",
                unit_price=Money.of("2.50", "EUR"),
                quantity=request.quantity,
            )
            for request in sorted(requests, key=lambda request: request.product_id)
        ]

    def order(self) -> list[str]:
        return [name for name, _, _ in self.calls.mock_calls]

    def place(self) -> PlaceOrder:
        return PlaceOrder(
            self.actors,
            self.orders,
            self.stock,
            self.idempotency,
            lambda: NEW_ORDER_ID,
            self.limiter,
            self.transaction,
            self.clock,
            self.policy,
        )

    def pay(self) -> PayOrder:
        return PayOrder(
            self.actors,
            self.orders,
            self.payments,
            self.idempotency,
            self.limiter,
            self.transaction,
            self.clock,
        )

    def cancel(self) -> CancelOrder:
        return CancelOrder(self.actors, self.orders, self.stock, self.transaction, self.clock)

    def ship(self) -> ShipOrder:
        return ShipOrder(self.actors, self.orders, self.transaction, self.clock)

    def deliver(self) -> DeliverOrder:
        return DeliverOrder(self.actors, self.orders, self.transaction, self.clock)

    def expire(self) -> ExpireOrder:
        return ExpireOrder(self.orders, self.stock, self.transaction, self.clock, OrderingPolicy())


def assert_nothing_written(ports: Ports) -> None:
    ports.transaction.commit.assert_not_awaited()
    ports.stock.reserve.assert_not_awaited()
    ports.stock.release.assert_not_awaited()
    ports.idempotency.complete.assert_not_awaited()
    ports.orders.add.assert_not_called()


# --- PlaceOrder ---------------------------------------------------------------------------------


def place_request(*lines: tuple[UUID, int], key: str | None = None) -> PlaceOrderRequest:
    return PlaceOrderRequest(
        lines=tuple(PlaceOrderLine(product_id=p, quantity=q) for p, q in lines),
        idempotency_key=key,
    )


async def test_place_order_reserves_the_merged_basket_and_keeps_the_customers_line_order() -> None:
    ports = Ports(ALICE)
    first, second = UUID(int=2), UUID(int=1)  # the adapter will return them the other way round

    result = await ports.place()(place_request((first, 2), (second, 1), (first, 1), key="k1"))

    ports.stock.reserve.assert_awaited_once_with(
        [StockRequest(product_id=first, quantity=3), StockRequest(product_id=second, quantity=1)]
    )
    [placed] = ports.orders.add.call_args.args
    assert placed.customer_id == ALICE.user_id
    assert [line.product_id for line in placed.lines] == [first, second]
    assert placed.total == Money.of("10.00", "EUR")
    assert result.replayed is False
    assert result.response == snapshot(placed)
    assert result.response["id"] == str(NEW_ORDER_ID)
    assert result.response["total_amount"] == "10.00"
    assert result.response["lines"][0]["line_total"] == "7.50"
    key = ports.idempotency.claim.call_args.args[0]
    assert (key.owner, key.operation, key.key) == (ALICE.user_id, "ordering.place_order", "k1")
    ports.idempotency.complete.assert_awaited_once_with(key, result.response)
    assert ports.order() == [
        "idempotency.claim",
        "limiter.hit",
        "pending_holdings",
        "stock.reserve",
        "idempotency.complete",
        "transaction.commit",
    ]
    ports.limiter.hit.assert_awaited_once_with(
        RateLimitRule.PLACE_ORDER_PER_USER, str(ALICE.user_id)
    )


def test_a_rate_limit_refusal_tells_when_to_retry_within_which_limit() -> None:
    # What the presentation layer turns into Retry-After and the problem body.
    error = RateLimitedError("Slow down.", retry_after=30, limit=5, rule="place_order")

    assert (error.detail, error.retry_after, error.limit) == ("Slow down.", 30, 5)
    assert error.context == {"rule": "place_order"}


async def test_place_order_replay_returns_the_stored_response_without_reserving() -> None:
    ports = Ports(ALICE)
    stored = {"id": str(uuid4()), "status": "pending_payment", "total_amount": "1.00"}
    ports.idempotency.claim.return_value = stored

    result = await ports.place()(place_request((uuid4(), 1), key="k1"))

    assert result.replayed is True
    assert result.response == stored
    ports.stock.reserve.assert_not_awaited()
    ports.limiter.hit.assert_not_awaited()
    assert_nothing_written(ports)


async def test_place_order_fingerprints_the_merged_basket() -> None:
    ports = Ports(ALICE)
    a, b = uuid4(), uuid4()

    await ports.place()(place_request((a, 1), (b, 2), (a, 1), key="k"))
    await ports.place()(place_request((b, 2), (a, 2), key="k"))

    first, second = (call.args[0] for call in ports.idempotency.claim.await_args_list)
    assert first.fingerprint == second.fingerprint


async def test_place_order_fingerprints_which_products_in_which_quantities() -> None:
    ports = Ports(ALICE)
    a, b = UUID(int=1), UUID(int=2)

    await ports.place()(place_request((b, 3), (a, 1), key="k"))
    await ports.place()(place_request((a, 3), (b, 1), key="k"))

    first, second = (call.args[0] for call in ports.idempotency.claim.await_args_list)
    assert first.fingerprint != second.fingerprint
    # Stored with the key, so fixed across releases: a retry sent over an upgrade still matches.
    assert first.fingerprint == "53e682b829c3bb75ce11217fddb56cf3ebedef39ed2b6350f6999a263789233f"


async def test_place_order_without_a_key_claims_nothing() -> None:
    ports = Ports(ALICE)

    await ports.place()(place_request((uuid4(), 1)))

    ports.idempotency.claim.assert_not_awaited()
    ports.idempotency.complete.assert_not_awaited()
    ports.transaction.commit.assert_awaited_once()


async def test_place_order_refuses_bad_quantities_before_any_io() -> None:
    ports = Ports(ALICE)

    with pytest.raises(InvalidQuantityError):
        await ports.place()(place_request((uuid4(), 0), key="k"))

    ports.idempotency.claim.assert_not_awaited()
    assert_nothing_written(ports)


async def test_place_order_out_of_stock_places_nothing() -> None:
    ports = Ports(ALICE)
    ports.stock.reserve.side_effect = OutOfStockError("Not enough stock.")

    with pytest.raises(OutOfStockError):
        await ports.place()(place_request((uuid4(), 1), key="k"))

    ports.orders.add.assert_not_called()
    ports.idempotency.complete.assert_not_awaited()
    ports.transaction.commit.assert_not_awaited()


async def test_place_order_over_the_rate_limit_reserves_nothing() -> None:
    ports = Ports(ALICE)
    ports.limiter.hit.side_effect = RateLimitedError("Slow down.", retry_after=30, limit=10)

    with pytest.raises(RateLimitedError):
        await ports.place()(place_request((uuid4(), 1)))

    assert_nothing_written(ports)


@pytest.mark.parametrize("actor", [STAFF, ADMIN])
async def test_anyone_signed_in_may_place_an_order(actor: Actor) -> None:
    ports = Ports(actor)

    result = await ports.place()(place_request((uuid4(), 1)))

    assert result.response["customer_id"] == str(actor.user_id)


@pytest.mark.parametrize(
    ("held", "quantity", "error"),
    [
        (PendingHoldings(orders=3, units=3), 1, TooManyPendingOrdersError),
        (PendingHoldings(orders=2, units=45), 6, TooManyPendingUnitsError),
        (PendingHoldings(orders=0, units=0), 11, TooManyUnitsOfProductError),
    ],
    ids=["pending orders", "pending units", "units of one product"],
)
async def test_a_customer_over_a_holding_bound_reserves_nothing(
    held: PendingHoldings, quantity: int, error: type[Exception]
) -> None:
    ports = Ports(ALICE)
    ports.orders.pending_holdings.return_value = held

    with pytest.raises(error):
        await ports.place()(place_request((uuid4(), quantity), key="k"))

    ports.orders.pending_holdings.assert_awaited_once_with(ALICE.user_id)
    ports.stock.reserve.assert_not_awaited()
    assert_nothing_written(ports)


@pytest.mark.parametrize(
    ("held", "quantity", "context"),
    [
        (PendingHoldings(orders=3, units=3), 1, {"max_pending_orders": 3}),
        (PendingHoldings(orders=2, units=45), 6, {"held_units": 45, "max_pending_units": 50}),
        (
            PendingHoldings(orders=0, units=0),
            11,
            {"product_id": str(NEW_ORDER_ID), "max_units_per_product": 10},
        ),
    ],
    ids=["pending orders", "pending units", "units of one product"],
)
async def test_a_holding_bound_tells_the_customer_the_limit_and_what_they_hold(
    held: PendingHoldings, quantity: int, context: dict[str, object]
) -> None:
    ports = Ports(ALICE)
    ports.orders.pending_holdings.return_value = held

    with pytest.raises(DomainError) as caught:
        await ports.place()(place_request((NEW_ORDER_ID, quantity)))

    assert caught.value.context == context


async def test_a_customer_exactly_at_the_bounds_may_order() -> None:
    ports = Ports(ALICE)
    ports.orders.pending_holdings.return_value = PendingHoldings(orders=2, units=40)

    await ports.place()(place_request((uuid4(), 10)))

    ports.transaction.commit.assert_awaited_once()


@pytest.mark.parametrize("actor", [STAFF, ADMIN])
async def test_staff_orders_are_not_bounded_like_customers(actor: Actor) -> None:
    ports = Ports(actor)
    ports.orders.pending_holdings.return_value = PendingHoldings(orders=99, units=9999)

    await ports.place()(place_request((uuid4(), 500)))

    ports.orders.pending_holdings.assert_not_awaited()
    ports.transaction.commit.assert_awaited_once()


# --- PayOrder -----------------------------------------------------------------------------------


def pay_request(order: Order, card: str = APPROVED_CARD, key: str | None = None) -> PayOrderRequest:
    return PayOrderRequest(order_id=order.id_, card_number=card, idempotency_key=key)


async def test_pay_order_charges_the_total_and_marks_the_order_paid() -> None:
    order = make_order(ALICE)
    ports = Ports(ALICE, order)

    result = await ports.pay()(pay_request(order, key="p1"))

    ports.payments.charge.assert_awaited_once_with(order.id_, order.total, APPROVED_CARD)
    ports.orders.get.assert_awaited_once_with(order.id_, for_update=True)
    assert order.status is OrderStatus.PAID
    assert (order.payment_reference, order.paid_at) == ("sandbox_ok", NOW)
    assert result.response == snapshot(order)
    assert result.replayed is False
    key = ports.idempotency.claim.call_args.args[0]
    ports.idempotency.complete.assert_awaited_once_with(key, result.response)
    assert ports.order() == [
        "idempotency.claim",
        "limiter.hit",
        "limiter.check",
        "payments.charge",
        "idempotency.complete",
        "transaction.commit",
    ]
    customer = str(ALICE.user_id)
    ports.limiter.hit.assert_awaited_once_with(RateLimitRule.PAY_ORDER_PER_USER, customer)
    ports.limiter.check.assert_awaited_once_with(RateLimitRule.DECLINED_PAYMENT_PER_USER, customer)


async def test_pay_order_key_never_fingerprints_the_card_number() -> None:
    order = make_order(ALICE)
    ports = Ports(ALICE, order)

    await ports.pay()(pay_request(order, key="p1"))

    key = ports.idempotency.claim.call_args.args[0]
    assert key == IdempotencyKey.for_request(
        owner=ALICE.user_id,
        operation="ordering.pay_order",
        key="p1",
        request={"order_id": str(order.id_), "card_last4": "4242"},
    )


async def test_another_customers_order_is_not_found_and_not_charged() -> None:
    order = make_order(BOB)
    ports = Ports(ALICE, order)

    with pytest.raises(OrderNotFoundError) as caught:
        await ports.pay()(pay_request(order))

    assert caught.value.context == {"order_id": str(order.id_)}
    ports.payments.charge.assert_not_awaited()
    assert order.status is OrderStatus.PENDING_PAYMENT
    assert_nothing_written(ports)


async def test_paying_a_missing_order_is_not_found() -> None:
    ports = Ports(ALICE)

    with pytest.raises(OrderNotFoundError):
        await ports.pay()(PayOrderRequest(order_id=uuid4(), card_number=APPROVED_CARD))

    ports.payments.charge.assert_not_awaited()


@pytest.mark.parametrize("actor", [STAFF, ADMIN])
async def test_staff_cannot_pay_for_a_customer(actor: Actor) -> None:
    order = make_order(ALICE)
    ports = Ports(actor, order)

    with pytest.raises(NotOrderOwnerError):
        await ports.pay()(pay_request(order))

    ports.payments.charge.assert_not_awaited()


async def test_a_declined_payment_raises_and_leaves_the_order_pending() -> None:
    order = make_order(ALICE)
    ports = Ports(ALICE, order)
    ports.payments.charge.return_value = PaymentResult(
        approved=False, decline_reason="insufficient_funds"
    )

    with pytest.raises(PaymentDeclinedError) as caught:
        await ports.pay()(pay_request(order, card="4000000000009995", key="p1"))

    assert caught.value.code == "payment_declined"
    assert caught.value.context == {"reason": "insufficient_funds"}
    assert ports.locked == [order.id_]
    assert order.status is OrderStatus.PENDING_PAYMENT
    assert order.payment_reference is None
    assert order.pull_events() == []
    assert_nothing_written(ports)
    # The decline is counted once the gateway has answered, against the customer.
    assert ports.order()[-2:] == ["payments.charge", "limiter.hit"]
    ports.limiter.hit.assert_awaited_with(
        RateLimitRule.DECLINED_PAYMENT_PER_USER, str(ALICE.user_id)
    )


@pytest.mark.parametrize("reason", [None, "", "Card Declined!", "x" * 65, "<script>"])
async def test_a_decline_reason_the_gateway_words_oddly_is_told_as_declined(
    reason: str | None,
) -> None:
    order = make_order(ALICE)
    ports = Ports(ALICE, order)
    ports.payments.charge.return_value = PaymentResult(approved=False, decline_reason=reason)

    with pytest.raises(PaymentDeclinedError) as caught:
        await ports.pay()(pay_request(order))

    assert caught.value.context == {"reason": "declined"}


@pytest.mark.parametrize("reference", [None, "", "-starts-with-a-dash", "x" * 65])
async def test_an_approval_without_a_reference_we_can_record_pays_nothing(
    reference: str | None,
) -> None:
    order = make_order(ALICE)
    ports = Ports(ALICE, order)
    ports.payments.charge.return_value = PaymentResult(approved=True, reference=reference)

    with pytest.raises(PaymentGatewayError):
        await ports.pay()(pay_request(order))

    assert order.status is OrderStatus.PENDING_PAYMENT
    assert_nothing_written(ports)


async def test_a_customer_out_of_payment_attempts_is_refused_before_the_order_is_read() -> None:
    order = make_order(ALICE)
    ports = Ports(ALICE, order)
    ports.limiter.hit.side_effect = RateLimitedError("Slow down.", retry_after=30, limit=30)

    with pytest.raises(RateLimitedError):
        await ports.pay()(pay_request(order, key="p1"))

    ports.orders.get.assert_not_awaited()
    ports.payments.charge.assert_not_awaited()
    assert order.status is OrderStatus.PENDING_PAYMENT
    assert_nothing_written(ports)


async def test_a_customer_out_of_declines_is_refused_before_the_gateway_is_called() -> None:
    order = make_order(ALICE)
    ports = Ports(ALICE, order)
    ports.limiter.check.side_effect = RateLimitedError("Slow down.", retry_after=600, limit=5)

    with pytest.raises(RateLimitedError):
        await ports.pay()(pay_request(order))

    # Checked under the order's row lock, so attempts on one order see each other's declines.
    assert ports.locked == [order.id_]
    ports.payments.charge.assert_not_awaited()
    assert order.status is OrderStatus.PENDING_PAYMENT
    assert_nothing_written(ports)


async def test_an_approved_payment_spends_no_decline() -> None:
    order = make_order(ALICE)
    ports = Ports(ALICE, order)

    await ports.pay()(pay_request(order))

    rules = [call.args[0] for call in ports.limiter.hit.await_args_list]
    assert rules == [RateLimitRule.PAY_ORDER_PER_USER]


@pytest.mark.parametrize(
    "status",
    [OrderStatus.PAID, OrderStatus.SHIPPED, OrderStatus.CANCELLED, OrderStatus.EXPIRED],
)
async def test_an_order_not_awaiting_payment_is_never_charged(status: OrderStatus) -> None:
    order = make_order(ALICE, status)
    ports = Ports(ALICE, order)

    with pytest.raises(InvalidOrderTransitionError) as caught:
        await ports.pay()(pay_request(order))

    assert caught.value.context["current_status"] == status.value
    ports.payments.charge.assert_not_awaited()
    assert_nothing_written(ports)


async def test_pay_order_replay_returns_the_stored_response_without_charging() -> None:
    order = make_order(ALICE)
    ports = Ports(ALICE, order)
    stored = {"id": str(order.id_), "status": "paid"}
    ports.idempotency.claim.return_value = stored

    result = await ports.pay()(pay_request(order, key="p1"))

    assert (result.response, result.replayed) == (stored, True)
    ports.orders.get.assert_not_awaited()
    ports.payments.charge.assert_not_awaited()
    # A replay is not an attempt: it counts against no limit.
    ports.limiter.hit.assert_not_awaited()
    ports.limiter.check.assert_not_awaited()
    assert_nothing_written(ports)


def test_pay_request_never_shows_the_card_number() -> None:
    assert APPROVED_CARD not in repr(PayOrderRequest(order_id=uuid4(), card_number=APPROVED_CARD))


# --- CancelOrder --------------------------------------------------------------------------------


async def test_the_customer_cancels_a_pending_order_and_the_stock_goes_back() -> None:
    order = make_order(ALICE)
    ports = Ports(ALICE, order)

    result = await ports.cancel()(CancelOrderRequest(order_id=order.id_, reason="too slow"))

    assert order.status is OrderStatus.CANCELLED
    assert result == snapshot(order)
    assert result["cancellation_reason"] == "too slow"
    assert ports.locked == [order.id_]
    ports.stock.release.assert_awaited_once_with(
        [StockRequest(product_id=line.product_id, quantity=line.quantity) for line in order.lines]
    )
    assert ports.order() == ["stock.release", "transaction.commit"]


async def test_a_customer_cannot_cancel_another_customers_order() -> None:
    order = make_order(BOB)
    ports = Ports(ALICE, order)

    with pytest.raises(OrderNotFoundError) as caught:
        await ports.cancel()(CancelOrderRequest(order_id=order.id_))

    assert caught.value.context == {"order_id": str(order.id_)}
    assert order.status is OrderStatus.PENDING_PAYMENT
    assert_nothing_written(ports)


@pytest.mark.parametrize("actor", [STAFF, ADMIN])
async def test_staff_and_admins_cancel_any_pending_order(actor: Actor) -> None:
    order = make_order(ALICE)
    ports = Ports(actor, order)

    await ports.cancel()(CancelOrderRequest(order_id=order.id_))

    assert order.status is OrderStatus.CANCELLED
    ports.stock.release.assert_awaited_once()


@pytest.mark.parametrize("actor", [ALICE, STAFF])
async def test_only_admins_cancel_a_paid_order(actor: Actor) -> None:
    order = make_order(ALICE, OrderStatus.PAID)
    ports = Ports(actor, order)

    with pytest.raises(CancellationNotAllowedError) as caught:
        await ports.cancel()(CancelOrderRequest(order_id=order.id_))

    assert isinstance(caught.value, AuthorizationError)
    assert order.status is OrderStatus.PAID
    assert_nothing_written(ports)


async def test_an_admin_cancels_a_paid_order_and_a_refund_is_due() -> None:
    order = make_order(ALICE, OrderStatus.PAID)
    ports = Ports(ADMIN, order)

    await ports.cancel()(CancelOrderRequest(order_id=order.id_, reason="damaged"))

    assert order.status is OrderStatus.CANCELLED
    [event] = order.pull_events()
    assert isinstance(event, OrderCancelled)
    assert (event.refund_due, event.refund_amount) == (True, "37.50")
    ports.stock.release.assert_awaited_once()
    ports.transaction.commit.assert_awaited_once()


@pytest.mark.parametrize(
    "status", [OrderStatus.SHIPPED, OrderStatus.DELIVERED, OrderStatus.CANCELLED]
)
@pytest.mark.parametrize("actor", [ALICE, ADMIN])
async def test_shipped_and_closed_orders_cannot_be_cancelled(
    status: OrderStatus, actor: Actor
) -> None:
    order = make_order(ALICE, status)
    ports = Ports(actor, order)

    with pytest.raises(InvalidOrderTransitionError):
        await ports.cancel()(CancelOrderRequest(order_id=order.id_))

    assert_nothing_written(ports)


# --- ShipOrder, DeliverOrder --------------------------------------------------------------------


async def test_staff_ship_a_paid_order() -> None:
    order = make_order(ALICE, OrderStatus.PAID)
    ports = Ports(STAFF, order)

    result = await ports.ship()(ShipOrderRequest(order_id=order.id_))

    assert order.status is OrderStatus.SHIPPED
    assert order.shipped_at == NOW
    assert result["status"] == "shipped"
    ports.orders.get.assert_awaited_once_with(order.id_, for_update=True)
    ports.transaction.commit.assert_awaited_once()


async def test_staff_deliver_a_shipped_order() -> None:
    order = make_order(ALICE, OrderStatus.SHIPPED)
    ports = Ports(STAFF, order)

    result = await ports.deliver()(DeliverOrderRequest(order_id=order.id_))

    assert order.status is OrderStatus.DELIVERED
    assert result["delivered_at"] == NOW.isoformat()
    ports.transaction.commit.assert_awaited_once()


@pytest.mark.parametrize("use_case", ["ship", "deliver"])
async def test_customers_cannot_ship_or_deliver_even_their_own_orders(use_case: str) -> None:
    order = make_order(ALICE, OrderStatus.PAID)
    ports = Ports(ALICE, order)
    request = (ShipOrderRequest if use_case == "ship" else DeliverOrderRequest)(order_id=order.id_)

    with pytest.raises(AuthorizationError):
        await getattr(ports, use_case)()(request)

    ports.orders.get.assert_not_awaited()  # refused before any lookup
    assert_nothing_written(ports)


async def test_shipping_a_missing_order_is_not_found() -> None:
    ports = Ports(STAFF)
    missing = uuid4()

    with pytest.raises(OrderNotFoundError) as caught:
        await ports.ship()(ShipOrderRequest(order_id=missing))

    assert caught.value.context == {"order_id": str(missing)}


async def test_shipping_an_unpaid_order_is_a_conflict() -> None:
    order = make_order(ALICE)
    ports = Ports(STAFF, order)

    with pytest.raises(InvalidOrderTransitionError):
        await ports.ship()(ShipOrderRequest(order_id=order.id_))

    ports.transaction.commit.assert_not_awaited()


# --- ExpireOrder --------------------------------------------------------------------------------


async def test_an_overdue_pending_order_expires_and_its_stock_goes_back() -> None:
    order = make_order(ALICE)  # placed an hour before NOW; the window is 30 minutes
    ports = Ports(None, order)

    result = await ports.expire()(ExpireOrderRequest(order_id=order.id_))

    assert order.status is OrderStatus.EXPIRED
    assert result["status"] == "expired"
    assert ports.locked == [order.id_]
    ports.stock.release.assert_awaited_once_with(
        [StockRequest(product_id=line.product_id, quantity=line.quantity) for line in order.lines]
    )
    ports.actors.current.assert_not_awaited()  # a system use case: no actor
    assert ports.order() == ["stock.release", "transaction.commit"]


async def test_an_order_within_its_window_is_not_expired() -> None:
    order = make_order(ALICE)
    ports = Ports(None, order)
    ports.clock.now.return_value = PLACED + timedelta(minutes=29)

    with pytest.raises(OrderNotOverdueError):
        await ports.expire()(ExpireOrderRequest(order_id=order.id_))

    assert_nothing_written(ports)


async def test_a_paid_order_is_never_expired() -> None:
    order = make_order(ALICE, OrderStatus.PAID)
    ports = Ports(None, order)

    with pytest.raises(InvalidOrderTransitionError):
        await ports.expire()(ExpireOrderRequest(order_id=order.id_))

    assert_nothing_written(ports)


async def test_expiring_a_missing_order_is_not_found() -> None:
    ports = Ports(None)
    missing = uuid4()

    with pytest.raises(OrderNotFoundError) as caught:
        await ports.expire()(ExpireOrderRequest(order_id=missing))

    assert caught.value.context == {"order_id": str(missing)}


async def test_the_overdue_orders_are_those_placed_before_the_payment_window_closed() -> None:
    ports = Ports(None)
    overdue = [OrderId(uuid4()), OrderId(uuid4())]
    ports.reader.overdue.return_value = overdue
    policy = OrderingPolicy(payment_window=timedelta(minutes=45))

    found = await FindOverdueOrders(ports.reader, ports.clock, policy)(
        FindOverdueOrdersRequest(limit=7)
    )

    assert found == overdue
    ports.reader.overdue.assert_awaited_once_with(
        placed_before=NOW - timedelta(minutes=45), limit=7
    )
    ports.actors.current.assert_not_awaited()  # the scheduler's query: no actor


# --- queries ------------------------------------------------------------------------------------


def order_view(customer: Actor) -> OrderView:
    order = make_order(customer)
    return OrderView(
        id=str(order.id_),
        customer_id=str(customer.user_id),
        status="pending_payment",
        total_amount="37.50",
        currency="USD",
        lines=[],
        created_at=PLACED,
        updated_at=PLACED,
        paid_at=None,
        payment_reference=None,
        shipped_at=None,
        delivered_at=None,
        cancelled_at=None,
        cancellation_reason=None,
    )


@pytest.mark.parametrize("actor", [ALICE, STAFF, ADMIN])
async def test_an_order_is_visible_to_its_customer_and_to_staff(actor: Actor) -> None:
    ports = Ports(actor)
    view = order_view(ALICE)
    ports.reader.get.return_value = view
    order_id = uuid4()

    assert await GetOrder(ports.actors, ports.reader)(GetOrderRequest(order_id=order_id)) == view
    ports.reader.get.assert_awaited_once_with(order_id)


async def test_another_customers_order_is_not_found_on_read() -> None:
    ports = Ports(BOB)
    ports.reader.get.return_value = order_view(ALICE)

    with pytest.raises(OrderNotFoundError):
        await GetOrder(ports.actors, ports.reader)(GetOrderRequest(order_id=uuid4()))


async def test_reading_a_missing_order_is_not_found() -> None:
    ports = Ports(STAFF)
    ports.reader.get.return_value = None
    missing = uuid4()

    with pytest.raises(OrderNotFoundError) as caught:
        await GetOrder(ports.actors, ports.reader)(GetOrderRequest(order_id=missing))

    assert caught.value.context == {"order_id": str(missing)}


@pytest.mark.parametrize(("asked", "used"), [(0, 1), (20, 20), (500, 100)])
async def test_my_orders_are_only_mine_and_the_limit_is_clamped(asked: int, used: int) -> None:
    ports = Ports(ALICE)
    page: Page[OrderSummaryView] = Page(items=[], next_cursor=None)
    ports.reader.search.return_value = page

    result = await ListMyOrders(ports.actors, ports.reader)(
        ListMyOrdersRequest(status=OrderStatus.PAID, limit=asked, cursor="c")
    )

    assert result == page
    ports.reader.search.assert_awaited_once_with(
        filter_=OrderFilter(customer_id=ALICE.user_id, status=OrderStatus.PAID),
        limit=used,
        cursor="c",
    )


async def test_customers_cannot_search_all_orders() -> None:
    ports = Ports(ALICE)

    with pytest.raises(AuthorizationError):
        await SearchOrders(ports.actors, ports.reader)(SearchOrdersRequest())

    ports.reader.search.assert_not_awaited()


@pytest.mark.usefixtures("server_in_tokyo")
async def test_staff_search_with_times_read_as_utc_whatever_the_servers_zone() -> None:
    ports = Ports(STAFF)
    ports.reader.search.return_value = Page(items=[], next_cursor=None)
    customer = uuid4()

    await SearchOrders(ports.actors, ports.reader)(
        SearchOrdersRequest(
            status=OrderStatus.SHIPPED,
            created_from=datetime(2024, 6, 1),  # noqa: DTZ001 - a client's time without offset
            created_to=datetime(2024, 6, 2, 4, tzinfo=timezone(timedelta(hours=2))),
            customer_id=customer,
            cursor="next-page",
        )
    )

    ports.reader.search.assert_awaited_once_with(
        filter_=OrderFilter(
            customer_id=customer,
            status=OrderStatus.SHIPPED,
            created_from=datetime(2024, 6, 1, tzinfo=UTC),
            created_to=datetime(2024, 6, 2, 2, tzinfo=UTC),
        ),
        limit=20,
        cursor="next-page",
    )
    filter_ = ports.reader.search.call_args.kwargs["filter_"]
    assert [filter_.created_from.isoformat(), filter_.created_to.isoformat()] == [
        "2024-06-01T00:00:00+00:00",
        "2024-06-02T02:00:00+00:00",
    ]


@pytest.mark.parametrize(("asked", "used"), [(-5, 1), (0, 1), (1, 1), (100, 100), (101, 100)])
async def test_a_search_page_holds_1_to_100_orders(asked: int, used: int) -> None:
    ports = Ports(STAFF)
    ports.reader.search.return_value = Page(items=[], next_cursor=None)

    await SearchOrders(ports.actors, ports.reader)(SearchOrdersRequest(limit=asked))

    assert ports.reader.search.call_args.kwargs["limit"] == used


async def test_a_time_before_the_first_instant_is_refused_naming_it() -> None:
    ports = Ports(STAFF)
    too_early = datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14)))

    with pytest.raises(InvalidDateRangeError) as caught:
        await SearchOrders(ports.actors, ports.reader)(SearchOrdersRequest(created_to=too_early))

    assert caught.value.context == {"value": "0001-01-01T00:00:00+14:00"}
    ports.reader.search.assert_not_awaited()


async def test_search_refuses_an_empty_or_backwards_time_range() -> None:
    ports = Ports(STAFF)
    moment = datetime(2024, 6, 1, tzinfo=UTC)

    with pytest.raises(InvalidDateRangeError) as caught:
        await SearchOrders(ports.actors, ports.reader)(
            SearchOrdersRequest(
                created_from=moment.astimezone(timezone(timedelta(hours=2))), created_to=moment
            )
        )

    assert caught.value.context == {
        "created_from": "2024-06-01T00:00:00+00:00",
        "created_to": "2024-06-01T00:00:00+00:00",
    }


@pytest.mark.parametrize("actor", [ALICE, STAFF])
async def test_sales_figures_are_for_admins_only(actor: Actor) -> None:
    ports = Ports(actor)

    with pytest.raises(AuthorizationError):
        await SalesSummary(ports.actors, ports.reader)(
            SalesSummaryRequest(first_day=date(2024, 6, 1), last_day=date(2024, 6, 1))
        )

    ports.reader.sales.assert_not_awaited()


async def test_admins_get_the_sales_summary_for_a_day_range() -> None:
    ports = Ports(ADMIN)
    ports.reader.sales.return_value = []
    first, last = date(2024, 1, 1), date(2024, 12, 31)  # a leap year: 366 days, the maximum

    result = await SalesSummary(ports.actors, ports.reader)(
        SalesSummaryRequest(first_day=first, last_day=last)
    )

    assert result == {"first_day": first, "last_day": last, "rows": []}
    ports.reader.sales.assert_awaited_once_with(first_day=first, last_day=last)


@pytest.mark.parametrize(
    ("first", "last"),
    [(date(2024, 6, 2), date(2024, 6, 1)), (date(2023, 1, 1), date(2024, 1, 2))],
)
async def test_sales_summary_refuses_backwards_or_overlong_ranges(first: date, last: date) -> None:
    ports = Ports(ADMIN)

    with pytest.raises(InvalidDateRangeError):
        await SalesSummary(ports.actors, ports.reader)(
            SalesSummaryRequest(first_day=first, last_day=last)
        )


@pytest.mark.parametrize(
    ("first", "last", "start", "end"),
    [
        (date(2024, 6, 1), date(2024, 6, 1), (2024, 6, 1), (2024, 6, 2)),
        (date(2024, 2, 1), date(2024, 2, 29), (2024, 2, 1), (2024, 3, 1)),
        (date(2023, 12, 31), date(2024, 12, 31), (2023, 12, 31), (2025, 1, 1)),
    ],
)
@pytest.mark.usefixtures("server_in_tokyo")
def test_a_day_range_is_the_instants_from_its_first_midnight_to_the_midnight_after_it(
    first: date, last: date, start: tuple[int, int, int], end: tuple[int, int, int]
) -> None:
    # UTC midnights whatever the server's zone: the days of the sales figures are UTC days.
    bounds = instants(first, last)

    assert bounds == (datetime(*start, tzinfo=UTC), datetime(*end, tzinfo=UTC))
    assert [bound.utcoffset() for bound in bounds] == [timedelta(0), timedelta(0)]


# --- snapshot: what every command returns (and an idempotent one stores) -------------------------


def test_the_snapshot_of_a_delivered_order_holds_every_field_as_json_values() -> None:
    product = UUID("22222222-2222-4222-8222-222222222222")
    order = Order.place(
        order_id=NEW_ORDER_ID,
        customer_id=ALICE.user_id,
        items=[
            PricedItem(
                product_id=product,
                sku="MUG-1",
                name="Mug",
                unit_price=Money.of("4.25", "EUR"),
                quantity=3,
            )
        ],
        at=PLACED,
    )
    order.pay("sandbox_ref", at=PLACED + timedelta(minutes=1))
    order.ship(at=PLACED + timedelta(minutes=2))
    order.deliver(at=PLACED + timedelta(minutes=3))

    assert snapshot(order) == {
        "id": str(NEW_ORDER_ID),
        "customer_id": str(ALICE.user_id),
        "status": "delivered",
        "total_amount": "12.75",
        "currency": "EUR",
        "lines": [
            {
                "line_no": 1,
                "product_id": str(product),
                "sku": "MUG-1",
                "name": "Mug",
                "unit_price": "4.25",
                "quantity": 3,
                "line_total": "12.75",
            }
        ],
        "created_at": "2024-06-01T12:00:00+00:00",
        "updated_at": "2024-06-01T12:03:00+00:00",
        "paid_at": "2024-06-01T12:01:00+00:00",
        "payment_reference": "sandbox_ref",
        "shipped_at": "2024-06-01T12:02:00+00:00",
        "delivered_at": "2024-06-01T12:03:00+00:00",
        "cancelled_at": None,
        "cancellation_reason": None,
    }


def test_the_snapshot_of_a_cancelled_order_has_when_and_why() -> None:
    order = make_order(ALICE)
    order.cancel("changed my mind", at=NOW)

    taken = snapshot(order)

    assert (taken["status"], taken["cancelled_at"], taken["cancellation_reason"]) == (
        "cancelled",
        NOW.isoformat(),
        "changed my mind",
    )
    assert (taken["paid_at"], taken["shipped_at"], taken["delivered_at"]) == (None, None, None)
    assert [line["line_no"] for line in taken["lines"]] == [1, 2]


# --- IdempotencyKey: what a client may send, and the request's fingerprint ------------------------


def idempotency_key(key: str = "k", **request: Any) -> IdempotencyKey:
    return IdempotencyKey.for_request(
        owner=ALICE.user_id, operation="ordering.place_order", key=key, request=request
    )


@pytest.mark.parametrize("key", ["k", "a b", "~!~", "x" * 255, " ~".join("az")])
def test_an_idempotency_key_is_1_to_255_visible_ascii_characters_and_inner_spaces(
    key: str,
) -> None:
    assert idempotency_key(key).key == key


@pytest.mark.parametrize(
    "key", ["", "x" * 256, " k", "k ", " ", "a\x01b", "a\tb", "a\x7fb", "caf\u00e9"]
)
def test_any_other_idempotency_key_is_refused(key: str) -> None:
    with pytest.raises(InvalidIdempotencyKeyError):
        idempotency_key(key)


def test_the_fingerprint_ignores_the_order_of_a_requests_fields_but_not_their_values() -> None:
    same = idempotency_key(order_id="o1", card_last4="4242")

    assert same.fingerprint == idempotency_key(card_last4="4242", order_id="o1").fingerprint
    assert same.fingerprint != idempotency_key(order_id="o2", card_last4="4242").fingerprint
    assert same.fingerprint != idempotency_key(order_id="o1").fingerprint


def test_the_fingerprint_of_a_request_never_changes_across_releases() -> None:
    # Stored with each key: a retry sent across an upgrade must still match, so the canonical
    # form (sorted keys, no spaces, UUIDs and decimals as text) is fixed.
    key = idempotency_key(lines=[[UUID(int=7), 2]], amount=Decimal("1.50"))

    assert key.fingerprint == "64ab7498a6fbaa989be1074ccc44288b64da7538e015b93e69ebba00681f4c79"
