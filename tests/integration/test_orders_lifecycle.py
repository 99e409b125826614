"""The order state machine over HTTP: every allowed transition (who may take it, what it records,
stock given back on cancel), every forbidden one (409 invalid_order_transition naming the
current status), and card payments (approved, declined 402, malformed 422)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import httpx
import pytest

from tests.integration.order_support import (
    APPROVED_CARD,
    DECLINED_CARD,
    INSUFFICIENT_FUNDS_CARD,
    ORDERS,
    Shop,
    assert_transition_refused,
    cancel,
    deliver,
    event_counts,
    new_product,
    open_shop,
    order_events,
    order_of,
    paid,
    pay,
    placed,
    ship,
    stock_of,
)
from tests.integration.support import assert_problem
from tests.support.sql import sql_execute


async def _order(client: httpx.AsyncClient, shop: Shop, product: str, quantity: int = 2) -> str:
    return str((await placed(client, shop.alice, (product, quantity)))["id"])


async def test_pending_to_paid_to_shipped_to_delivered(
    client: httpx.AsyncClient, database_url: str
) -> None:
    shop = await open_shop(client, database_url)
    product = await new_product(client, shop, "LIFE-1", stock=10, price="20.00")
    order_id = await _order(client, shop, product)

    paying = await pay(client, shop.alice, order_id, APPROVED_CARD)
    assert paying.status_code == 200, paying.text
    after_pay = paying.json()
    assert after_pay["status"] == "paid"
    assert after_pay["payment_reference"].startswith("sandbox_")
    assert after_pay["paid_at"] is not None
    assert APPROVED_CARD not in paying.text

    shipping = await ship(client, shop.staff, order_id)
    assert shipping.status_code == 200, shipping.text
    assert shipping.json()["status"] == "shipped"
    assert shipping.json()["shipped_at"] is not None

    delivering = await deliver(client, shop.staff, order_id)
    assert delivering.status_code == 200, delivering.text
    final = delivering.json()
    assert final["status"] == "delivered"
    paid_at, shipped_at, delivered_at = (
        datetime.fromisoformat(final[field]) for field in ("paid_at", "shipped_at", "delivered_at")
    )
    assert datetime.fromisoformat(final["created_at"]) <= paid_at <= shipped_at <= delivered_at
    assert final["updated_at"] == final["delivered_at"]
    assert final["payment_reference"] == after_pay["payment_reference"]
    assert final["cancelled_at"] is None
    assert await order_of(client, shop.alice, order_id) == final
    # Delivered orders keep their stock taken.
    assert await stock_of(client, database_url, product) == 8
    events = [(kind, aggregate) for kind, aggregate, _ in await order_events(database_url)]
    assert events == [
        ("OrderPlaced", order_id),
        ("OrderPaid", order_id),
        ("OrderShipped", order_id),
        ("OrderDelivered", order_id),
    ]
    payloads = {kind: payload for kind, _, payload in await order_events(database_url)}
    assert payloads["OrderPaid"] == {
        "customer_id": shop.alice.id,
        "payment_reference": after_pay["payment_reference"],
        "amount": "40.00",
        "currency": "EUR",
    }


async def test_admins_and_super_admins_fulfil_orders_too(
    client: httpx.AsyncClient, database_url: str
) -> None:
    shop = await open_shop(client, database_url)
    product = await new_product(client, shop, "LIFE-2", stock=10)
    for fulfiller in (shop.admin, shop.root):
        order_id = await _order(client, shop, product, 1)
        await paid(client, shop.alice, order_id)
        assert (await ship(client, fulfiller, order_id)).status_code == 200
        assert (await deliver(client, fulfiller, order_id)).status_code == 200


async def test_the_customer_cancels_a_pending_order_and_the_stock_comes_back(
    client: httpx.AsyncClient, database_url: str
) -> None:
    shop = await open_shop(client, database_url)
    product = await new_product(client, shop, "LIFE-3", stock=10)
    order_id = await _order(client, shop, product, 3)
    assert await stock_of(client, database_url, product) == 7

    response = await cancel(client, shop.alice, order_id, "  found it cheaper  ")

    assert response.status_code == 200, response.text
    order = response.json()
    assert order["status"] == "cancelled"
    assert order["cancellation_reason"] == "found it cheaper"
    assert order["cancelled_at"] is not None
    assert await stock_of(client, database_url, product) == 10
    cancelled = [p for kind, _, p in await order_events(database_url) if kind == "OrderCancelled"]
    assert cancelled == [
        {
            "customer_id": shop.alice.id,
            "reason": "found it cheaper",
            "previous_status": "pending_payment",
            "refund_due": False,
            "refund_amount": None,
            "currency": "EUR",
        }
    ]


async def test_a_cancel_without_a_body_or_reason_is_fine(
    client: httpx.AsyncClient, database_url: str
) -> None:
    shop = await open_shop(client, database_url)
    product = await new_product(client, shop, "LIFE-4", stock=10)
    first, second = await _order(client, shop, product), await _order(client, shop, product)

    bare = await client.post(f"{ORDERS}/{first}/cancel", headers=shop.alice.headers)
    blank = await cancel(client, shop.alice, second, "   ")

    for response in (bare, blank):
        assert response.status_code == 200, response.text
        assert response.json()["cancellation_reason"] is None
    assert await stock_of(client, database_url, product) == 10


async def test_a_cancellation_reason_has_at_most_500_characters(
    client: httpx.AsyncClient, database_url: str
) -> None:
    shop = await open_shop(client, database_url)
    product = await new_product(client, shop, "LIFE-5", stock=10)
    order_id = await _order(client, shop, product)

    assert_problem(await cancel(client, shop.alice, order_id, "x" * 501), 422, "validation_error")
    assert (await order_of(client, shop.alice, order_id))["status"] == "pending_payment"
    ok = await cancel(client, shop.alice, order_id, "x" * 500)
    assert ok.status_code == 200, ok.text


async def test_staff_cancel_any_pending_order(client: httpx.AsyncClient, database_url: str) -> None:
    shop = await open_shop(client, database_url)
    product = await new_product(client, shop, "LIFE-6", stock=10)
    order_id = await _order(client, shop, product)

    response = await cancel(client, shop.staff, order_id, "suspected fraud")

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "cancelled"
    assert await stock_of(client, database_url, product) == 10


async def test_only_admins_cancel_a_paid_order_and_a_refund_is_due(
    client: httpx.AsyncClient, database_url: str
) -> None:
    shop = await open_shop(client, database_url)
    product = await new_product(client, shop, "LIFE-7", stock=10, price="19.99")
    order_id = await _order(client, shop, product, 3)
    await paid(client, shop.alice, order_id)

    for actor in (shop.alice, shop.staff):
        assert_problem(await cancel(client, actor, order_id), 403, "cancellation_not_allowed")
    assert await stock_of(client, database_url, product) == 7
    assert (await order_of(client, shop.alice, order_id))["status"] == "paid"

    response = await cancel(client, shop.admin, order_id, "damaged in warehouse")

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "cancelled"
    assert response.json()["paid_at"] is not None
    assert await stock_of(client, database_url, product) == 10
    cancelled = [p for kind, _, p in await order_events(database_url) if kind == "OrderCancelled"]
    assert cancelled == [
        {
            "customer_id": shop.alice.id,
            "reason": "damaged in warehouse",
            "previous_status": "paid",
            "refund_due": True,
            "refund_amount": "59.97",
            "currency": "EUR",
        }
    ]


async def test_a_super_admin_cancels_a_paid_order(
    client: httpx.AsyncClient, database_url: str
) -> None:
    shop = await open_shop(client, database_url)
    product = await new_product(client, shop, "LIFE-8", stock=10)
    order_id = await _order(client, shop, product)
    await paid(client, shop.alice, order_id)

    response = await cancel(client, shop.root, order_id)

    assert response.status_code == 200, response.text
    assert await stock_of(client, database_url, product) == 10


# --- forbidden transitions -------------------------------------------------------------------

Action = Callable[[httpx.AsyncClient, Shop, str], Awaitable[httpx.Response]]


async def _pay(client: httpx.AsyncClient, shop: Shop, order_id: str) -> httpx.Response:
    return await pay(client, shop.alice, order_id)


async def _cancel_as_admin(client: httpx.AsyncClient, shop: Shop, order_id: str) -> httpx.Response:
    return await cancel(client, shop.admin, order_id)


async def _cancel_as_owner(client: httpx.AsyncClient, shop: Shop, order_id: str) -> httpx.Response:
    return await cancel(client, shop.alice, order_id)


async def _ship(client: httpx.AsyncClient, shop: Shop, order_id: str) -> httpx.Response:
    return await ship(client, shop.staff, order_id)


async def _deliver(client: httpx.AsyncClient, shop: Shop, order_id: str) -> httpx.Response:
    return await deliver(client, shop.staff, order_id)


ACTIONS: dict[str, Action] = {
    "pay": _pay,
    "cancel (admin)": _cancel_as_admin,
    "cancel (owner)": _cancel_as_owner,
    "ship": _ship,
    "deliver": _deliver,
}

# Everything not in the state machine's table; pending_payment/paid + cancel by the owner are
# allowed or 403, so they do not appear.
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "pending_payment": ("ship", "deliver"),
    "paid": ("pay", "deliver"),
    "shipped": ("pay", "cancel (admin)", "cancel (owner)", "ship"),
    "delivered": ("pay", "cancel (admin)", "cancel (owner)", "ship", "deliver"),
    "cancelled": ("pay", "cancel (admin)", "cancel (owner)", "ship", "deliver"),
    "expired": ("pay", "cancel (admin)", "cancel (owner)", "ship", "deliver"),
}


async def _order_in(
    client: httpx.AsyncClient, shop: Shop, product: str, status: str, database_url: str
) -> str:
    order_id = await _order(client, shop, product, 1)
    steps: dict[str, list[Action]] = {
        "pending_payment": [],
        "paid": [_pay],
        "shipped": [_pay, _ship],
        "delivered": [_pay, _ship, _deliver],
        "cancelled": [_cancel_as_owner],
        "expired": [],
    }
    for step in steps[status]:
        response = await step(client, shop, order_id)
        assert response.status_code == 200, response.text
    if status == "expired":
        # No HTTP route expires orders (the system's ExpireOrder use case does): set it directly.
        result = await sql_execute(
            database_url, "UPDATE orders SET status = 'expired' WHERE id = $1", order_id
        )
        assert result == "UPDATE 1"
    return order_id


@pytest.mark.parametrize("status", list(FORBIDDEN))
async def test_every_forbidden_transition_is_409_naming_the_current_status(
    client: httpx.AsyncClient, database_url: str, status: str
) -> None:
    shop = await open_shop(client, database_url)
    product = await new_product(client, shop, "FORBID-1", stock=10)
    order_id = await _order_in(client, shop, product, status, database_url)
    before = await order_of(client, shop.admin, order_id)
    stock = await stock_of(client, database_url, product)
    events = await event_counts(database_url)

    for name in FORBIDDEN[status]:
        response = await ACTIONS[name](client, shop, order_id)
        body = assert_transition_refused(response, status)
        assert status in body["detail"], (name, body)

    assert await order_of(client, shop.admin, order_id) == before
    assert await stock_of(client, database_url, product) == stock
    assert await event_counts(database_url) == events


async def test_a_declined_card_is_402_and_the_order_stays_pending(
    client: httpx.AsyncClient, database_url: str
) -> None:
    shop = await open_shop(client, database_url)
    product = await new_product(client, shop, "CARD-1", stock=10)
    order_id = await _order(client, shop, product)

    cases = {
        DECLINED_CARD: "card_declined",
        INSUFFICIENT_FUNDS_CARD: "insufficient_funds",
        "4242424242424241": "invalid_card_number",  # fails the Luhn check
        "5555555555554444": "invalid_card_number",  # valid, but unknown to the sandbox
    }
    for card, reason in cases.items():
        response = await pay(client, shop.alice, order_id, card)
        body = assert_problem(response, 402, "payment_declined")
        assert body["reason"] == reason, body
        assert card not in response.text
    order = await order_of(client, shop.alice, order_id)
    assert order["status"] == "pending_payment"
    assert order["paid_at"] is None
    assert order["payment_reference"] is None
    assert await stock_of(client, database_url, product) == 8
    assert (await event_counts(database_url))[("OrderPaid", order_id)] == 0

    grouped = await pay(client, shop.alice, order_id, "4242-4242-4242-4242")
    assert grouped.status_code == 200, grouped.text
    assert grouped.json()["status"] == "paid"


async def test_a_malformed_card_number_is_422(client: httpx.AsyncClient, database_url: str) -> None:
    shop = await open_shop(client, database_url)
    product = await new_product(client, shop, "CARD-2", stock=10)
    order_id = await _order(client, shop, product)

    for card in ("", "4242", "4242x42424242424", "4" * 24, " 4242424242424242"):
        assert_problem(await pay(client, shop.alice, order_id, card), 422, "validation_error")
    missing = await client.post(f"{ORDERS}/{order_id}/pay", json={}, headers=shop.alice.headers)
    assert_problem(missing, 422, "validation_error")
    assert (await order_of(client, shop.alice, order_id))["status"] == "pending_payment"


async def test_only_the_customer_pays_their_order(
    client: httpx.AsyncClient, database_url: str
) -> None:
    shop = await open_shop(client, database_url)
    product = await new_product(client, shop, "CARD-3", stock=10)
    order_id = await _order(client, shop, product)

    # Staff see the order, so they are told "not yours" (403) rather than "no such order".
    for actor in (shop.staff, shop.admin, shop.root):
        assert_problem(await pay(client, actor, order_id), 403, "not_order_owner")
    assert_problem(await pay(client, shop.alice, str(uuid.uuid4())), 404, "order_not_found")
    assert (await order_of(client, shop.alice, order_id))["status"] == "pending_payment"


async def test_transitions_of_an_unknown_order_are_404(
    client: httpx.AsyncClient, database_url: str
) -> None:
    shop = await open_shop(client, database_url)
    missing = str(uuid.uuid4())
    responses: list[tuple[str, Any]] = [
        ("pay", await pay(client, shop.alice, missing)),
        ("cancel", await cancel(client, shop.alice, missing)),
        ("cancel (admin)", await cancel(client, shop.admin, missing)),
        ("ship", await ship(client, shop.staff, missing)),
        ("deliver", await deliver(client, shop.staff, missing)),
    ]
    for name, response in responses:
        body = assert_problem(response, 404, "order_not_found")
        assert body["order_id"] == missing, name
    assert_problem(await ship(client, shop.staff, "not-a-uuid"), 422, "validation_error")


async def test_a_nul_character_in_the_cancellation_reason_is_refused_not_a_server_error(
    client: httpx.AsyncClient, database_url: str
) -> None:
    """PostgreSQL text cannot hold NUL; the catalog refuses it at the edge (_NO_NUL pattern), the
    cancel body must too, rather than fail in the UPDATE."""
    shop = await open_shop(client, database_url)
    product = await new_product(client, shop, "NUL-1", stock=10)
    order_id = await _order(client, shop, product)

    response = await cancel(client, shop.alice, order_id, "bad\x00reason")

    assert response.status_code == 422, response.text
    assert (await order_of(client, shop.alice, order_id))["status"] == "pending_payment"
    assert await stock_of(client, database_url, product) == 8
