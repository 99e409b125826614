"""The order lifecycle: every (status, action) pair, allowed or refused, and its events."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from app.ordering.domain.errors import InvalidOrderTransitionError
from app.ordering.domain.events import (
    OrderCancelled,
    OrderDelivered,
    OrderExpired,
    OrderPaid,
    OrderPlaced,
    OrderShipped,
)
from app.ordering.domain.order import Order, PricedItem
from app.ordering.domain.state_machine import (
    FINAL_STATUSES,
    TRANSITIONS,
    OrderAction,
    can_transition,
    next_status,
)
from app.ordering.domain.value_objects import OrderId, OrderStatus
from app.shared.domain.events import DomainEvent
from app.shared.domain.money import Money

PLACED = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=30)
LATER = PLACED + timedelta(hours=1)  # past the payment window, so expiry is never "too early"

S = OrderStatus
A = OrderAction
# Written out independently of the production table: the specification, not a copy of it.
ALLOWED: dict[tuple[OrderStatus, OrderAction], OrderStatus] = {
    (S.PENDING_PAYMENT, A.PAY): S.PAID,
    (S.PENDING_PAYMENT, A.CANCEL): S.CANCELLED,
    (S.PENDING_PAYMENT, A.EXPIRE): S.EXPIRED,
    (S.PAID, A.SHIP): S.SHIPPED,
    (S.PAID, A.CANCEL): S.CANCELLED,
    (S.SHIPPED, A.DELIVER): S.DELIVERED,
}
EVENT_OF: dict[OrderAction, type[DomainEvent]] = {
    A.PAY: OrderPaid,
    A.CANCEL: OrderCancelled,
    A.EXPIRE: OrderExpired,
    A.SHIP: OrderShipped,
    A.DELIVER: OrderDelivered,
}
PERFORM: dict[OrderAction, Callable[[Order], None]] = {
    A.PAY: lambda order: order.pay("sandbox_ref", at=LATER),
    A.CANCEL: lambda order: order.cancel("changed my mind", at=LATER),
    A.EXPIRE: lambda order: order.expire(at=LATER, payment_window=WINDOW),
    A.SHIP: lambda order: order.ship(at=LATER),
    A.DELIVER: lambda order: order.deliver(at=LATER),
}
MATRIX = [(status, action) for status in OrderStatus for action in OrderAction]


def order_in(status: OrderStatus) -> Order:
    order = Order.place(
        order_id=OrderId(uuid4()),
        customer_id=uuid4(),
        items=[
            PricedItem(
                product_id=uuid4(),
                sku="SKU-1",
                name="Widget",
                unit_price=Money.of("12.50", "USD"),
                quantity=2,
            )
        ],
        at=PLACED,
    )
    order.status = status
    order.pull_events()  # the placement is not under test here
    return order


def test_the_production_table_is_the_specified_one() -> None:
    assert dict(TRANSITIONS) == ALLOWED


def test_delivered_cancelled_and_expired_are_final() -> None:
    assert {S.DELIVERED, S.CANCELLED, S.EXPIRED} == FINAL_STATUSES


@pytest.mark.parametrize(("status", "action"), MATRIX)
def test_next_status_follows_the_table(status: OrderStatus, action: OrderAction) -> None:
    assert can_transition(status, action) is ((status, action) in ALLOWED)
    if (status, action) in ALLOWED:
        assert next_status(status, action) is ALLOWED[status, action]
    else:
        with pytest.raises(InvalidOrderTransitionError):
            next_status(status, action)


@pytest.mark.parametrize(("status", "action"), [key for key in MATRIX if key in ALLOWED])
def test_allowed_transition_moves_the_order_and_records_one_event(
    status: OrderStatus, action: OrderAction
) -> None:
    order = order_in(status)

    PERFORM[action](order)

    assert order.status is ALLOWED[status, action]
    assert order.updated_at == LATER
    events = order.pull_events()
    assert [type(event) for event in events] == [EVENT_OF[action]]
    assert events[0].aggregate_id == order.id_
    assert events[0].occurred_at == LATER
    assert events[0].aggregate_type == "order"


@pytest.mark.parametrize(("status", "action"), [key for key in MATRIX if key not in ALLOWED])
def test_forbidden_transition_raises_and_changes_nothing(
    status: OrderStatus, action: OrderAction
) -> None:
    order = order_in(status)

    with pytest.raises(InvalidOrderTransitionError) as caught:
        PERFORM[action](order)

    assert caught.value.code == "invalid_order_transition"
    assert caught.value.context == {"current_status": status.value, "action": action.value}
    assert order.status is status
    assert order.updated_at == PLACED
    assert (order.paid_at, order.payment_reference, order.shipped_at) == (None, None, None)
    assert (order.delivered_at, order.cancelled_at, order.cancellation_reason) == (None, None, None)
    assert order.pull_events() == []


@pytest.mark.parametrize(("status", "action"), MATRIX)
def test_can_answers_without_side_effects(status: OrderStatus, action: OrderAction) -> None:
    order = order_in(status)

    assert order.can(action) is ((status, action) in ALLOWED)
    assert order.status is status
    assert order.pull_events() == []


def test_the_happy_path_records_every_event_in_order() -> None:
    order = order_in(S.PENDING_PAYMENT)

    order.pay("sandbox_ref", at=PLACED + timedelta(minutes=1))
    order.ship(at=PLACED + timedelta(days=1))
    order.deliver(at=PLACED + timedelta(days=3))

    assert order.status is S.DELIVERED
    assert [type(event) for event in order.pull_events()] == [
        OrderPaid,
        OrderShipped,
        OrderDelivered,
    ]
    assert order.paid_at == PLACED + timedelta(minutes=1)
    assert order.shipped_at == PLACED + timedelta(days=1)
    assert order.delivered_at == PLACED + timedelta(days=3)


def test_placing_records_order_placed() -> None:
    order = Order.place(
        order_id=OrderId(uuid4()),
        customer_id=uuid4(),
        items=[
            PricedItem(
                product_id=uuid4(),
                sku="SKU-1",
                name="Widget",
                unit_price=Money.of("1", "EUR"),
                quantity=1,
            )
        ],
        at=PLACED,
    )

    assert order.status is S.PENDING_PAYMENT
    assert [type(event) for event in order.pull_events()] == [OrderPlaced]
