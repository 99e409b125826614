"""Helpers for the ordering integration tests: a shop with users and products, order requests
over HTTP, and direct reads of stock, orders and the outbox (asyncpg)."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from typing import Any

import httpx

from tests.integration.catalog_support import PRODUCTS, create_product
from tests.integration.support import (
    Actor,
    Staffing,
    assert_problem,
    staffing,
    user_with_role,
)
from tests.support.sql import sql_rows, sql_value

ORDERS = "/api/v1/orders"
APPROVED_CARD = "4242424242424242"
DECLINED_CARD = "4000000000000002"
INSUFFICIENT_FUNDS_CARD = "4000000000009995"
REPLAYED = "Idempotent-Replayed"


@dataclass(frozen=True, slots=True)
class Shop:
    """The staffing (root, adam the admin, sam the staff, carl the customer) plus more
    customers, and the database to check what happened."""

    team: Staffing
    customers: tuple[Actor, ...]
    database_url: str

    @property
    def admin(self) -> Actor:
        return self.team.admin

    @property
    def staff(self) -> Actor:
        return self.team.staff

    @property
    def root(self) -> Actor:
        return self.team.root

    @property
    def alice(self) -> Actor:
        return self.customers[0]

    @property
    def bob(self) -> Actor:
        return self.customers[1]


async def open_shop(client: httpx.AsyncClient, database_url: str, *, customers: int = 2) -> Shop:
    team = await staffing(client, database_url)
    extra = [
        await user_with_role(client, team.admin.tokens, f"cust{number:02d}", "customer")
        for number in range(customers)
    ]
    return Shop(team=team, customers=(team.customer, *extra), database_url=database_url)


@dataclass(frozen=True, slots=True)
class Shopfront:
    """The worker tests' shop: the staffing, one product (MUG-1, a Mug at 12.50 EUR) and a
    buyer (``buyer@example.com`` by default), whose headers place the orders."""

    team: Staffing
    product_id: str
    buyer: dict[str, str]


async def shopfront(
    client: httpx.AsyncClient, database_url: str, *, stock: int = 5, buyer: str = "buyer"
) -> Shopfront:
    shop = await open_shop(client, database_url, customers=0)
    product_id = await new_product(client, shop, "MUG-1", name="Mug", stock=stock)
    customer = await user_with_role(client, shop.admin.tokens, buyer, "customer")
    return Shopfront(shop.team, product_id, customer.headers)


async def place_order(client: httpx.AsyncClient, shop: Shopfront, quantity: int = 1) -> str:
    """One order of the shop's product by its buyer; its id."""
    order = await client.post(
        ORDERS, json=order_body((shop.product_id, quantity)), headers=shop.buyer
    )
    assert order.status_code == 201, order.text
    return str(order.json()["id"])


async def new_product(
    client: httpx.AsyncClient,
    shop: Shop,
    sku: str,
    *,
    stock: int = 10,
    price: str = "12.50",
    currency: str = "EUR",
    name: str | None = None,
) -> str:
    product = await create_product(
        client,
        shop.staff.headers,
        sku=sku,
        name=name or f"Product {sku}",
        price_amount=price,
        currency=currency,
        stock_on_hand=stock,
    )
    # Read once as a customer would, so the product is in the cache before any order: a stock
    # change that forgot to invalidate it then shows in stock_of.
    await client.get(f"{PRODUCTS}/{product}", headers=shop.staff.headers)
    return product


def order_body(*lines: tuple[str, int]) -> dict[str, Any]:
    return {"lines": [{"product_id": product, "quantity": quantity} for product, quantity in lines]}


def _headers(actor: Actor | None, key: str | None) -> dict[str, str]:
    headers = dict(actor.headers) if actor is not None else {}
    if key is not None:
        headers["Idempotency-Key"] = key
    return headers


async def place(
    client: httpx.AsyncClient, actor: Actor | None, *lines: tuple[str, int], key: str | None = None
) -> httpx.Response:
    return await client.post(ORDERS, json=order_body(*lines), headers=_headers(actor, key))


async def placed(
    client: httpx.AsyncClient, actor: Actor, *lines: tuple[str, int]
) -> dict[str, Any]:
    response = await place(client, actor, *lines)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def pay(
    client: httpx.AsyncClient,
    actor: Actor | None,
    order_id: str,
    card: str = APPROVED_CARD,
    *,
    key: str | None = None,
) -> httpx.Response:
    return await client.post(
        f"{ORDERS}/{order_id}/pay", json={"card_number": card}, headers=_headers(actor, key)
    )


async def paid(client: httpx.AsyncClient, actor: Actor, order_id: str) -> dict[str, Any]:
    response = await pay(client, actor, order_id)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def cancel(
    client: httpx.AsyncClient, actor: Actor | None, order_id: str, reason: str | None = None
) -> httpx.Response:
    body = None if reason is None else {"reason": reason}
    return await client.post(
        f"{ORDERS}/{order_id}/cancel", json=body, headers=_headers(actor, None)
    )


async def ship(client: httpx.AsyncClient, actor: Actor | None, order_id: str) -> httpx.Response:
    return await client.post(f"{ORDERS}/{order_id}/ship", headers=_headers(actor, None))


async def deliver(client: httpx.AsyncClient, actor: Actor | None, order_id: str) -> httpx.Response:
    return await client.post(f"{ORDERS}/{order_id}/deliver", headers=_headers(actor, None))


async def get_order(
    client: httpx.AsyncClient, actor: Actor | None, order_id: str
) -> httpx.Response:
    return await client.get(f"{ORDERS}/{order_id}", headers=_headers(actor, None))


async def order_of(client: httpx.AsyncClient, actor: Actor, order_id: str) -> dict[str, Any]:
    response = await get_order(client, actor, order_id)
    assert response.status_code == 200, response.text
    return dict(response.json())


def assert_transition_refused(response: httpx.Response, current_status: str) -> dict[str, Any]:
    body = assert_problem(response, 409, "invalid_order_transition")
    assert body["current_status"] == current_status, body
    return body


async def list_pages(
    client: httpx.AsyncClient,
    actor: Actor,
    path: str = ORDERS,
    params: dict[str, Any] | None = None,
) -> list[list[dict[str, Any]]]:
    """Every page of a listing, following next_cursor to the end."""
    pages: list[list[dict[str, Any]]] = []
    cursor: str | None = None
    for _ in range(1000):
        query = dict(params or {})
        if cursor is not None:
            query["cursor"] = cursor
        response = await client.get(path, params=query, headers=actor.headers)
        assert response.status_code == 200, response.text
        page = response.json()
        pages.append(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return pages
    msg = "the listing never ended"
    raise AssertionError(msg)


async def list_ids(
    client: httpx.AsyncClient,
    actor: Actor,
    path: str = ORDERS,
    params: dict[str, Any] | None = None,
) -> list[str]:
    return [item["id"] for page in await list_pages(client, actor, path, params) for item in page]


# --- the database, read directly ----------------------------------------------------------------


async def stock_of(client: httpx.AsyncClient, database_url: str, product_id: str) -> int:
    """The stock in PostgreSQL; for an active product, checked against what a customer reads
    through the API (its cache), which new_product filled before any order."""
    stored = int(
        await sql_value(
            database_url, "SELECT stock_on_hand FROM products WHERE id = $1", product_id
        )
    )
    status = await sql_value(database_url, "SELECT status FROM products WHERE id = $1", product_id)
    if status == "active":
        shown = await client.get(f"{PRODUCTS}/{product_id}")
        assert shown.status_code == 200, shown.text
        assert shown.json()["stock_on_hand"] == stored, "the cached product shows another stock"
    return stored


async def orders_of(database_url: str, customer_id: str) -> int:
    return int(
        await sql_value(
            database_url, "SELECT count(*) FROM orders WHERE customer_id = $1", customer_id
        )
    )


async def order_events(database_url: str) -> list[tuple[str, str, dict[str, Any]]]:
    """(event_type, aggregate_id, payload) of the order rows of the outbox, oldest first."""
    rows = await sql_rows(
        database_url,
        "SELECT event_type, aggregate_id, payload FROM outbox_events "
        "WHERE aggregate_type = 'order' ORDER BY occurred_at, recorded_at",
    )
    return [
        (
            row["event_type"],
            str(row["aggregate_id"]),
            json.loads(row["payload"]) if isinstance(row["payload"], str) else row["payload"],
        )
        for row in rows
    ]


async def event_counts(database_url: str) -> Counter[tuple[str, str]]:
    """The multiset of (event_type, aggregate_id) of the order events in the outbox."""
    return Counter(
        (event_type, aggregate) for event_type, aggregate, _ in await order_events(database_url)
    )
