"""The outbox holds exactly the events of committed order changes: after a mix of successful and
failed requests, nothing from rolled-back work, nothing twice."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

import httpx

from tests.integration.order_support import (
    DECLINED_CARD,
    cancel,
    deliver,
    event_counts,
    new_product,
    open_shop,
    order_events,
    pay,
    place,
    ship,
)
from tests.support.sql import sql_rows


async def test_only_committed_changes_leave_events_and_each_exactly_once(  # noqa: PLR0915 - one scenario
    client: httpx.AsyncClient, database_url: str
) -> None:
    shop = await open_shop(client, database_url)
    mug = await new_product(client, shop, "OUT-1", stock=5, price="12.50")
    pot = await new_product(client, shop, "OUT-2", stock=2, price="30.00")
    dollars = await new_product(client, shop, "OUT-3", stock=5, currency="USD")
    archived = await new_product(client, shop, "OUT-4", stock=5)
    assert (
        await client.post(f"/api/v1/products/{archived}/archive", headers=shop.staff.headers)
    ).status_code == 204
    product_events = await sql_rows(
        database_url, "SELECT id FROM outbox_events WHERE aggregate_type <> 'order'"
    )
    alice, bob, staff, admin = shop.alice, shop.bob, shop.staff, shop.admin
    expected: list[tuple[str, str]] = []

    async def status_of(response: httpx.Response, wanted: int) -> str:
        assert response.status_code == wanted, response.text
        return str(response.json()["id"]) if wanted in {200, 201} else ""

    # Order A: placed (with a key), replayed, declined, paid (with a key), replayed, paid again,
    # cancelled by the customer (paid: 403), shipped, cancelled by an admin (409), delivered.
    a = await status_of(await place(client, alice, (mug, 2), key="a"), 201)
    expected.append(("OrderPlaced", a))
    await status_of(await place(client, alice, (mug, 2), key="a"), 201)
    await status_of(await place(client, alice, (mug, 3), key="a"), 422)
    await status_of(await pay(client, alice, a, DECLINED_CARD), 402)
    await status_of(await pay(client, alice, a, key="pay-a"), 200)
    expected.append(("OrderPaid", a))
    await status_of(await pay(client, alice, a, key="pay-a"), 200)
    await status_of(await pay(client, alice, a), 409)
    await status_of(await cancel(client, alice, a), 403)
    await status_of(await deliver(client, staff, a), 409)
    await status_of(await ship(client, staff, a), 200)
    expected.append(("OrderShipped", a))
    await status_of(await ship(client, staff, a), 409)
    await status_of(await cancel(client, admin, a), 409)
    await status_of(await deliver(client, staff, a), 200)
    expected.append(("OrderDelivered", a))
    await status_of(await deliver(client, staff, a), 409)

    # Refused orders: out of stock, unknown or archived product, two currencies (rolled back
    # after stock was taken), invalid quantities.
    await status_of(await place(client, bob, (mug, 1), (pot, 3)), 409)
    await status_of(await place(client, bob, (str(uuid.uuid4()), 1)), 409)
    await status_of(await place(client, bob, (archived, 1)), 409)
    await status_of(await place(client, bob, (mug, 1), (dollars, 1)), 422)
    await status_of(await place(client, bob, (mug, 600), (mug, 600)), 422)

    # Order B: placed, someone else's cancel (404), cancelled by its customer, cancelled again.
    b = await status_of(await place(client, bob, (pot, 2)), 201)
    expected.append(("OrderPlaced", b))
    await status_of(await cancel(client, alice, b), 404)
    await status_of(await pay(client, alice, b), 404)
    await status_of(await cancel(client, bob, b, "oops"), 200)
    expected.append(("OrderCancelled", b))
    await status_of(await cancel(client, bob, b), 409)
    await status_of(await pay(client, bob, b), 409)

    # Order C: paid then refunded by an admin; staff could not.
    c = await status_of(await place(client, bob, (pot, 1), (mug, 1)), 201)
    expected.append(("OrderPlaced", c))
    await status_of(await pay(client, bob, c), 200)
    expected.append(("OrderPaid", c))
    await status_of(await cancel(client, staff, c), 403)
    await status_of(await cancel(client, admin, c, "refund"), 200)
    expected.append(("OrderCancelled", c))
    await status_of(await ship(client, staff, c), 409)

    # Order D: ten concurrent idempotent placements and five concurrent cancels.
    many = await asyncio.gather(*(place(client, alice, (pot, 1), key="d") for _ in range(10)))
    assert {response.status_code for response in many} == {201}
    d = str(many[0].json()["id"])
    expected.append(("OrderPlaced", d))
    cancels = await asyncio.gather(*(cancel(client, alice, d) for _ in range(5)))
    assert sorted(response.status_code for response in cancels) == [200, 409, 409, 409, 409]
    expected.append(("OrderCancelled", d))

    assert await event_counts(database_url) == Counter(expected)
    assert [
        (kind, aggregate) for kind, aggregate, _ in await order_events(database_url)
    ] == expected
    # Stock reservations and releases raise no catalog events of their own.
    assert (
        await sql_rows(database_url, "SELECT id FROM outbox_events WHERE aggregate_type <> 'order'")
        == product_events
    )
    # Each row is relayed at most once (the API's fast path may already have published it).
    rows = await sql_rows(
        database_url,
        "SELECT count(*) AS n, count(DISTINCT id) AS ids, max(attempts) AS attempts "
        "FROM outbox_events WHERE aggregate_type = 'order'",
    )
    assert (rows[0]["n"], rows[0]["ids"]) == (len(expected), len(expected))
    assert rows[0]["attempts"] <= 1


async def test_order_event_payloads_hold_the_facts_consumers_need(
    client: httpx.AsyncClient, database_url: str
) -> None:
    shop = await open_shop(client, database_url)
    mug = await new_product(client, shop, "PAY-1", stock=5, price="12.50")
    pot = await new_product(client, shop, "PAY-2", stock=5, price="30.00")
    response = await place(client, shop.alice, (pot, 1), (mug, 2))
    order = response.json()

    events = await order_events(database_url)

    assert events == [
        (
            "OrderPlaced",
            order["id"],
            {
                "customer_id": shop.alice.id,
                "lines": [
                    {"product_id": pot, "sku": "PAY-2", "quantity": 1, "unit_price": "30.00"},
                    {"product_id": mug, "sku": "PAY-1", "quantity": 2, "unit_price": "12.50"},
                ],
                "total_amount": "55.00",
                "currency": "EUR",
            },
        )
    ]
    headers = await sql_rows(
        database_url,
        "SELECT headers->>'request_id' AS request_id FROM outbox_events WHERE aggregate_id = $1",
        order["id"],
    )
    assert headers[0]["request_id"] == response.headers["X-Request-ID"]
