"""The Order aggregate: totals, line rules, the basket's merging, events and their payloads."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest
from sqlalchemy import inspect

from app.ordering.domain.basket import Basket
from app.ordering.domain.errors import (
    DuplicateOrderLineError,
    InvalidCancellationReasonError,
    InvalidLineCountError,
    InvalidOrderLineError,
    InvalidOrderTransitionError,
    InvalidPaymentReferenceError,
    InvalidQuantityError,
    OrderNotOverdueError,
)
from app.ordering.domain.events import OrderCancelled, OrderPaid, OrderPlaced
from app.ordering.domain.order import Order, PricedItem
from app.ordering.domain.value_objects import OrderId, OrderStatus
from app.ordering.infrastructure.mapping import map_ordering
from app.ordering.infrastructure.tables import order_lines_table, orders_table
from app.shared.domain.money import CurrencyMismatchError, InvalidMoneyError, Money
from app.shared.infrastructure.outbox import event_payload

AT = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=30)


def item(
    price: str = "12.50", quantity: int = 1, currency: str = "USD", **kw: object
) -> PricedItem:
    fields: dict[str, object] = {
        "product_id": uuid4(),
        "sku": "SKU-1",
        "name": "Widget",
        "unit_price": Money.of(price, currency),
        "quantity": quantity,
        **kw,
    }
    return PricedItem(**fields)  # type: ignore[arg-type]


def place(*items: PricedItem, customer_id: UUID | None = None) -> Order:
    return Order.place(
        order_id=OrderId(uuid4()),
        customer_id=customer_id or uuid4(),
        items=list(items),
        at=AT,
    )


# --- placing -----------------------------------------------------------------------------------


def test_total_is_the_sum_of_unit_price_times_quantity() -> None:
    order = place(item("12.50", 3), item("0.99", 2), item("100", 1))

    assert order.total == Money.of("139.48", "USD")
    assert [line.total for line in order.lines] == [
        Money.of("37.50", "USD"),
        Money.of("1.98", "USD"),
        Money.of("100", "USD"),
    ]


def test_lines_are_numbered_from_one_in_the_given_order() -> None:
    first, second = item(sku="A"), item(sku="B")

    order = place(first, second)

    assert [(line.line_no, line.sku, line.product_id) for line in order.lines] == [
        (1, "A", first.product_id),
        (2, "B", second.product_id),
    ]


def test_a_new_order_awaits_payment_and_is_unsaved() -> None:
    customer = uuid4()
    order = place(item(), customer_id=customer)

    assert order.status is OrderStatus.PENDING_PAYMENT
    assert order.customer_id == customer
    assert order.created_at == order.updated_at == AT
    assert order.version == 0
    assert order.paid_at is None
    assert order.payment_reference is None


def test_zero_decimal_currency_keeps_its_scale() -> None:
    order = place(item("1500", 3, currency="JPY"))

    assert order.total == Money.of("4500", "JPY")
    assert str(order.total.amount) == "4500"


def test_free_items_are_allowed() -> None:
    assert place(item("0", 5)).total == Money.zero("USD")


def test_mixed_currencies_are_refused() -> None:
    with pytest.raises(CurrencyMismatchError):
        place(item(currency="USD"), item(currency="EUR"))


def test_a_total_beyond_money_limits_is_refused() -> None:
    with pytest.raises(InvalidMoneyError):
        place(*(item("9999999.99", 1000) for _ in range(2)))


@pytest.mark.parametrize("count", [0, 51])
def test_line_count_outside_1_to_50_is_refused(count: int) -> None:
    with pytest.raises(InvalidLineCountError) as caught:
        place(*(item() for _ in range(count)))

    assert caught.value.code == "invalid_line_count"
    assert caught.value.context == {"count": count, "min": 1, "max": 50}


@pytest.mark.parametrize("count", [1, 50])
def test_line_count_bounds_are_inclusive(count: int) -> None:
    assert len(place(*(item() for _ in range(count))).lines) == count


@pytest.mark.parametrize("quantity", [0, -1, 1001, True])
def test_quantity_outside_1_to_1000_is_refused(quantity: int) -> None:
    product_id = uuid4()

    with pytest.raises(InvalidQuantityError) as caught:
        place(item(quantity=quantity, product_id=product_id))

    assert caught.value.code == "invalid_quantity"
    assert caught.value.context == {"product_id": str(product_id), "min": 1, "max": 1000}


@pytest.mark.parametrize("quantity", [1, 1000])
def test_quantity_bounds_are_inclusive(quantity: int) -> None:
    assert place(item(quantity=quantity)).lines[0].quantity == quantity


def test_two_lines_for_one_product_are_refused() -> None:
    product_id = uuid4()

    with pytest.raises(DuplicateOrderLineError):
        place(item(product_id=product_id), item(product_id=product_id))


def test_a_negative_unit_price_is_refused_naming_the_product() -> None:
    product_id = uuid4()

    with pytest.raises(InvalidOrderLineError) as caught:
        place(item("-1", product_id=product_id))

    assert caught.value.context == {"product_id": str(product_id)}


@pytest.mark.parametrize("field", ["sku", "name"])
def test_a_line_names_its_product(field: str) -> None:
    product_id = uuid4()
    blank: dict[str, Any] = {field: "", "product_id": product_id}

    with pytest.raises(InvalidOrderLineError) as caught:
        place(item(**blank))

    assert caught.value.context == {"product_id": str(product_id)}


def test_order_placed_carries_the_lines_and_total_as_strings() -> None:
    first = item("12.50", 2, sku="A")
    order = place(first)

    [event] = order.pull_events()

    assert isinstance(event, OrderPlaced)
    assert event.aggregate_id == order.id_
    assert event.customer_id == order.customer_id
    assert event.lines == (
        {"product_id": str(first.product_id), "sku": "A", "quantity": 2, "unit_price": "12.50"},
    )
    assert (event.total_amount, event.currency) == ("25.00", "USD")


def test_events_serialise_to_plain_json() -> None:
    order = place(item("12.50", 2))
    order.pay("sandbox_ref", at=AT)
    order.cancel("refund please", at=AT)

    payloads = [event_payload(event) for event in order.pull_events()]

    assert json.loads(json.dumps(payloads)) == payloads
    assert payloads[0]["customer_id"] == str(order.customer_id)
    assert payloads[2]["refund_due"] is True


# --- the basket: what the customer asks for ---------------------------------------------------


def test_basket_merges_duplicate_products_in_first_seen_order() -> None:
    a, b = uuid4(), uuid4()

    basket = Basket.of([(a, 2), (b, 1), (a, 3)])

    assert [(i.product_id, i.quantity) for i in basket.items] == [(a, 5), (b, 1)]


def test_basket_bounds_the_merged_quantity() -> None:
    a = uuid4()

    with pytest.raises(InvalidQuantityError) as caught:
        Basket.of([(a, 600), (a, 401)])

    assert caught.value.context["product_id"] == str(a)


def test_basket_checks_each_quantity_before_merging() -> None:
    a = uuid4()

    with pytest.raises(InvalidQuantityError) as caught:
        Basket.of([(a, 5), (a, -2)])  # would sum to a valid 3

    assert caught.value.context["product_id"] == str(a)


def test_basket_counts_lines_after_merging() -> None:
    a = uuid4()
    distinct = [(uuid4(), 1) for _ in range(49)]

    assert len(Basket.of([*distinct, (a, 1), (a, 1)]).items) == 50
    with pytest.raises(InvalidLineCountError):
        Basket.of([(uuid4(), 1) for _ in range(51)])
    with pytest.raises(InvalidLineCountError):
        Basket.of([])


# --- changes after placing ---------------------------------------------------------------------


def test_pay_keeps_the_reference_and_records_the_amount() -> None:
    order = place(item("10", 2))
    order.pull_events()

    order.pay("  sandbox_abc  ", at=AT + timedelta(minutes=1))

    assert order.payment_reference == "sandbox_abc"
    assert order.paid_at == AT + timedelta(minutes=1)
    [event] = order.pull_events()
    assert isinstance(event, OrderPaid)
    assert (event.payment_reference, event.amount, event.currency) == (
        "sandbox_abc",
        "20.00",
        "USD",
    )


@pytest.mark.parametrize("reference", ["x", "x" * 64])
def test_a_payment_reference_of_1_to_64_characters_is_kept(reference: str) -> None:
    order = place(item())

    order.pay(reference, at=AT)

    assert order.payment_reference == reference


@pytest.mark.parametrize("reference", ["", "   ", "x" * 65])
def test_pay_needs_a_reference(reference: str) -> None:
    order = place(item())

    with pytest.raises(InvalidPaymentReferenceError):
        order.pay(reference, at=AT)

    assert order.status is OrderStatus.PENDING_PAYMENT


def test_cancelling_a_pending_order_owes_no_refund() -> None:
    order = place(item())
    order.pull_events()

    order.cancel("  changed my mind ", at=AT)

    assert order.cancellation_reason == "changed my mind"
    assert order.cancelled_at == AT
    [event] = order.pull_events()
    assert isinstance(event, OrderCancelled)
    assert (event.previous_status, event.refund_due, event.refund_amount) == (
        "pending_payment",
        False,
        None,
    )


def test_cancelling_a_paid_order_owes_a_refund_of_the_total() -> None:
    order = place(item("12.50", 2))
    order.pay("sandbox_ref", at=AT)
    order.pull_events()

    order.cancel(None, at=AT)

    [event] = order.pull_events()
    assert isinstance(event, OrderCancelled)
    assert (event.previous_status, event.refund_due) == ("paid", True)
    assert (event.refund_amount, event.currency) == ("25.00", "USD")
    assert event.reason is None


@pytest.mark.parametrize("reason", [None, "", "   "])
def test_a_blank_cancellation_reason_is_no_reason(reason: str | None) -> None:
    order = place(item())

    order.cancel(reason, at=AT)

    assert order.cancellation_reason is None


def test_a_cancellation_reason_of_500_characters_is_kept_in_the_event() -> None:
    order = place(item())
    order.pull_events()

    order.cancel("x" * 500, at=AT)

    [event] = order.pull_events()
    assert isinstance(event, OrderCancelled)
    assert event.reason == order.cancellation_reason == "x" * 500


def test_a_long_cancellation_reason_is_refused() -> None:
    order = place(item())

    with pytest.raises(InvalidCancellationReasonError):
        order.cancel("x" * 501, at=AT)

    assert order.status is OrderStatus.PENDING_PAYMENT


def test_an_order_within_its_payment_window_does_not_expire() -> None:
    order = place(item())

    with pytest.raises(OrderNotOverdueError) as caught:
        order.expire(at=AT + WINDOW - timedelta(seconds=1), payment_window=WINDOW)

    assert caught.value.context == {"expires_at": (AT + WINDOW).isoformat()}
    assert order.status is OrderStatus.PENDING_PAYMENT


def test_an_order_expires_once_its_payment_window_has_passed() -> None:
    order = place(item())

    order.expire(at=AT + WINDOW, payment_window=WINDOW)

    assert order.status is OrderStatus.EXPIRED


def test_expiring_a_paid_order_is_an_invalid_transition_even_within_the_window() -> None:
    order = place(item())
    order.pay("sandbox_ref", at=AT)

    with pytest.raises(InvalidOrderTransitionError):
        order.expire(at=AT, payment_window=WINDOW)


def test_is_overdue_only_for_pending_orders() -> None:
    order = place(item())
    late = AT + WINDOW

    assert order.is_overdue(at=late, payment_window=WINDOW)
    order.pay("sandbox_ref", at=AT)
    assert not order.is_overdue(at=late, payment_window=WINDOW)


def test_every_event_of_an_orders_life_names_the_order_its_customer_and_the_moment() -> None:
    customer = uuid4()
    delivered = place(item(), customer_id=customer)
    delivered.pay("sandbox_ref", at=AT + timedelta(minutes=1))
    delivered.ship(at=AT + timedelta(minutes=2))
    delivered.deliver(at=AT + timedelta(minutes=3))
    cancelled = place(item(), customer_id=customer)
    cancelled.cancel(None, at=AT + timedelta(minutes=4))
    expired = place(item(), customer_id=customer)
    expired.expire(at=AT + WINDOW, payment_window=WINDOW)

    events: list[Any] = [e for o in (delivered, cancelled, expired) for e in o.pull_events()]

    assert [(type(e).__name__, e.aggregate_id, e.occurred_at, e.customer_id) for e in events] == [
        ("OrderPlaced", delivered.id_, AT, customer),
        ("OrderPaid", delivered.id_, AT + timedelta(minutes=1), customer),
        ("OrderShipped", delivered.id_, AT + timedelta(minutes=2), customer),
        ("OrderDelivered", delivered.id_, AT + timedelta(minutes=3), customer),
        ("OrderPlaced", cancelled.id_, AT, customer),
        ("OrderCancelled", cancelled.id_, AT + timedelta(minutes=4), customer),
        ("OrderPlaced", expired.id_, AT, customer),
        ("OrderExpired", expired.id_, AT + WINDOW, customer),
    ]


def test_orders_are_equal_by_id() -> None:
    order = place(item())
    twin = place(item())
    twin.id_ = order.id_

    assert order == twin
    assert hash(order) == hash(twin)
    assert order != place(item())


# --- mapping (no database: the mapper's configuration) -----------------------------------------


def test_mapping_is_idempotent_and_configures_versioning_composites_and_lines() -> None:
    map_ordering()
    map_ordering()

    mapper = inspect(Order)
    assert mapper is not None
    assert mapper.version_id_col is orders_table.c.version
    assert set(mapper.composites.keys()) == {"total"}
    lines = mapper.relationships["lines"]
    assert lines.lazy == "selectin"
    assert lines.cascade.delete_orphan
    assert list(lines.order_by) == [order_lines_table.c.line_no]
    line_mapper = inspect(lines.mapper.class_)
    assert set(line_mapper.composites.keys()) == {"unit_price"}


def test_a_mapped_order_still_builds_and_totals_without_a_session() -> None:
    map_ordering()

    order = place(item("2.50", 4))

    assert order.total == Money(Decimal("10.00"), "USD")
    assert order.lines[0].unit_price == Money.of("2.50", "USD")
