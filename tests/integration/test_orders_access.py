"""Who may see and change which order: customers only their own (another's is 404, never 403),
staff and above every order; fulfilment and search are staff-only (403 before any lookup); the
sales summary is admin-only; anonymous callers get 401 on every route."""

from __future__ import annotations

import uuid

import httpx

from tests.integration.order_support import (
    ORDERS,
    cancel,
    deliver,
    event_counts,
    get_order,
    list_ids,
    new_product,
    open_shop,
    order_of,
    paid,
    pay,
    placed,
    ship,
    stock_of,
)
from tests.integration.support import assert_problem, assert_unauthorized


async def test_a_customer_cannot_read_pay_or_cancel_another_customers_order(
    client: httpx.AsyncClient, database_url: str
) -> None:
    shop = await open_shop(client, database_url)
    product = await new_product(client, shop, "BOLA-1", stock=10)
    bobs = (await placed(client, shop.bob, (product, 2)))["id"]
    before = await order_of(client, shop.bob, bobs)

    for response in (
        await get_order(client, shop.alice, bobs),
        await pay(client, shop.alice, bobs),
        await pay(client, shop.alice, bobs, key="sneaky"),
        await cancel(client, shop.alice, bobs, "mine now"),
    ):
        body = assert_problem(response, 404, "order_not_found")
        assert body["order_id"] == bobs
        # Indistinguishable from an order that does not exist.
        assert set(body) == {
            "type", "title", "status", "detail", "instance", "code", "request_id", "order_id"
        }  # fmt: skip
    missing = assert_problem(
        await get_order(client, shop.alice, str(uuid.uuid4())), 404, "order_not_found"
    )
    assert missing["detail"] == body["detail"]

    assert await order_of(client, shop.bob, bobs) == before
    assert await stock_of(client, database_url, product) == 8
    assert (await event_counts(database_url)).total() == 1
    # Bob's own order still works for Bob.
    await paid(client, shop.bob, bobs)


async def test_a_customer_cannot_cancel_another_customers_paid_order_either(
    client: httpx.AsyncClient, database_url: str
) -> None:
    shop = await open_shop(client, database_url)
    product = await new_product(client, shop, "BOLA-2", stock=10)
    bobs = (await placed(client, shop.bob, (product, 1)))["id"]
    await paid(client, shop.bob, bobs)

    assert_problem(await cancel(client, shop.alice, bobs), 404, "order_not_found")
    assert_problem(await pay(client, shop.alice, bobs), 404, "order_not_found")
    assert (await order_of(client, shop.bob, bobs))["status"] == "paid"


async def test_my_orders_lists_only_mine(client: httpx.AsyncClient, database_url: str) -> None:
    shop = await open_shop(client, database_url)
    product = await new_product(client, shop, "BOLA-3", stock=50)
    alices = {(await placed(client, shop.alice, (product, 1)))["id"] for _ in range(3)}
    bobs = {(await placed(client, shop.bob, (product, 1)))["id"] for _ in range(2)}
    staffs = {(await placed(client, shop.staff, (product, 1)))["id"]}

    assert set(await list_ids(client, shop.alice)) == alices
    assert set(await list_ids(client, shop.bob)) == bobs
    # "My orders" is personal for staff as well, not every order.
    assert set(await list_ids(client, shop.staff)) == staffs
    assert await list_ids(client, shop.customers[2]) == []
    # A customer_id parameter is not a filter of this route: it cannot widen the listing.
    widened = await client.get(
        ORDERS, params={"customer_id": shop.bob.id}, headers=shop.alice.headers
    )
    assert {item["id"] for item in widened.json()["items"]} == alices


async def test_staff_and_above_read_any_order_and_search(
    client: httpx.AsyncClient, database_url: str
) -> None:
    shop = await open_shop(client, database_url)
    product = await new_product(client, shop, "BOLA-4", stock=10)
    order = await placed(client, shop.alice, (product, 1))

    for actor in (shop.staff, shop.admin, shop.root):
        response = await get_order(client, actor, order["id"])
        assert response.status_code == 200, response.text
        assert response.json()["id"] == order["id"]
        assert response.json()["customer_id"] == shop.alice.id
        searched = await client.get(f"{ORDERS}/search", headers=actor.headers)
        assert searched.status_code == 200, searched.text
        assert [item["id"] for item in searched.json()["items"]] == [order["id"]]


async def test_customers_may_not_search_ship_or_deliver(
    client: httpx.AsyncClient, database_url: str
) -> None:
    shop = await open_shop(client, database_url)
    product = await new_product(client, shop, "BOLA-5", stock=10)
    own = (await placed(client, shop.alice, (product, 1)))["id"]
    await paid(client, shop.alice, own)
    others = (await placed(client, shop.bob, (product, 1)))["id"]
    missing = str(uuid.uuid4())

    assert_problem(
        await client.get(f"{ORDERS}/search", headers=shop.alice.headers), 403, "forbidden"
    )
    search_for_bob = await client.get(
        f"{ORDERS}/search", params={"customer_id": shop.bob.id}, headers=shop.alice.headers
    )
    assert_problem(search_for_bob, 403, "forbidden")
    # Even their own order, another's, or none at all: 403 before any lookup (no probing).
    for order_id in (own, others, missing):
        assert_problem(await ship(client, shop.alice, order_id), 403, "forbidden")
        assert_problem(await deliver(client, shop.alice, order_id), 403, "forbidden")
    assert (await order_of(client, shop.alice, own))["status"] == "paid"


async def test_the_sales_summary_is_for_admins_only(
    client: httpx.AsyncClient, database_url: str
) -> None:
    shop = await open_shop(client, database_url)
    params = {"from": "2024-01-01", "to": "2024-01-31"}

    for actor in (shop.alice, shop.staff):
        response = await client.get(f"{ORDERS}/sales-summary", params=params, headers=actor.headers)
        assert_problem(response, 403, "forbidden")
    for actor in (shop.admin, shop.root):
        response = await client.get(f"{ORDERS}/sales-summary", params=params, headers=actor.headers)
        assert response.status_code == 200, response.text
        assert response.json() == {"first_day": "2024-01-01", "last_day": "2024-01-31", "rows": []}


async def test_every_route_needs_a_signed_in_caller(
    client: httpx.AsyncClient, database_url: str
) -> None:
    shop = await open_shop(client, database_url)
    product = await new_product(client, shop, "BOLA-6", stock=10)
    order_id = (await placed(client, shop.alice, (product, 1)))["id"]
    requests = [
        ("POST", ORDERS, {"lines": [{"product_id": product, "quantity": 1}]}),
        ("GET", ORDERS, None),
        ("GET", f"{ORDERS}/search", None),
        ("GET", f"{ORDERS}/sales-summary?from=2024-01-01&to=2024-01-02", None),
        ("GET", f"{ORDERS}/{order_id}", None),
        ("POST", f"{ORDERS}/{order_id}/pay", {"card_number": "4242424242424242"}),
        ("POST", f"{ORDERS}/{order_id}/cancel", None),
        ("POST", f"{ORDERS}/{order_id}/ship", None),
        ("POST", f"{ORDERS}/{order_id}/deliver", None),
    ]
    for method, path, body in requests:
        for headers in ({}, {"Authorization": "Bearer not-a-token"}):
            response = await client.request(method, path, json=body, headers=headers)
            assert response.status_code == 401, (method, path, response.text)
            assert response.headers.get("www-authenticate") == "Bearer", (method, path)
    anonymous = await client.get(ORDERS)
    assert_unauthorized(anonymous, "not_authenticated")
    assert (await order_of(client, shop.alice, order_id))["status"] == "pending_payment"
    assert await stock_of(client, database_url, product) == 9


async def test_a_signed_out_customer_loses_access(
    client: httpx.AsyncClient, database_url: str
) -> None:
    shop = await open_shop(client, database_url)
    product = await new_product(client, shop, "BOLA-7", stock=10)
    order_id = (await placed(client, shop.alice, (product, 1)))["id"]

    logout = await client.post("/api/v1/auth/logout", headers=shop.alice.headers)
    assert logout.status_code == 204, logout.text

    for response in (
        await get_order(client, shop.alice, order_id),
        await cancel(client, shop.alice, order_id),
        await client.get(ORDERS, headers=shop.alice.headers),
    ):
        assert response.status_code == 401, response.text
    assert await stock_of(client, database_url, product) == 9
