"""The demo seeder (``python -m app seed-demo``): 300 products, four accounts and three orders in
different states the first time, nothing the second; the data works through the API."""

from __future__ import annotations

from collections import Counter

import httpx

from app.bootstrap.devtools.seed import PRODUCT_COUNT, DemoSeeder
from app.bootstrap.settings import Settings
from tests.integration.catalog_support import list_all
from tests.integration.helpers import bearer, log_in
from tests.integration.order_support import ORDERS, list_pages
from tests.integration.support import Actor
from tests.support.sql import sql_rows, sql_value

DEMO_PASSWORD = "demo-password-2024"


async def test_seeding_twice_creates_everything_once(
    settings: Settings, client: httpx.AsyncClient, database_url: str
) -> None:
    first = await DemoSeeder(settings, DEMO_PASSWORD).run()
    second = await DemoSeeder(settings, DEMO_PASSWORD).run()

    assert first == {"accounts": 4, "products_created": 300, "orders_created": 3}
    assert second == {"accounts": 4, "products_created": 0, "orders_created": 0}
    assert PRODUCT_COUNT == 300
    assert await sql_value(database_url, "SELECT count(*) FROM products") == 300
    users = await sql_rows(database_url, "SELECT username, role FROM users ORDER BY username")
    assert [(row["username"], row["role"]) for row in users] == [
        ("admin", "admin"),
        ("customer", "customer"),
        ("customer2", "customer"),
        ("staff", "staff"),
    ]
    statuses = await sql_rows(database_url, "SELECT status FROM orders")
    assert Counter(row["status"] for row in statuses) == {
        "pending_payment": 1,
        "paid": 1,
        "shipped": 1,
    }
    # Each order's stock was taken once: 1 + 2 per order, from products that had at least 10.
    assert await sql_value(database_url, "SELECT sum(quantity) FROM order_lines") == 9
    events = Counter(
        row["event_type"]
        for row in await sql_rows(
            database_url, "SELECT event_type FROM outbox_events WHERE aggregate_type = 'order'"
        )
    )
    assert events == {"OrderPlaced": 3, "OrderPaid": 2, "OrderShipped": 1}


async def test_the_demo_customer_logs_in_and_sees_three_orders(
    settings: Settings, client: httpx.AsyncClient
) -> None:
    await DemoSeeder(settings, DEMO_PASSWORD).run()

    tokens = await log_in(client, "customer", DEMO_PASSWORD)
    me = (await client.get("/api/v1/users/me", headers=bearer(tokens))).json()
    customer = Actor(me["id"], "customer", tokens)
    pages = await list_pages(client, customer, params={"limit": 2})

    orders = [item for page in pages for item in page]
    assert [len(page) for page in pages] == [2, 1]
    assert {order["customer_id"] for order in orders} == {customer.id}
    assert sorted(order["status"] for order in orders) == ["paid", "pending_payment", "shipped"]
    for order in orders:
        detail = await client.get(f"{ORDERS}/{order['id']}", headers=bearer(tokens))
        assert detail.status_code == 200, detail.text
        lines = detail.json()["lines"]
        assert [line["quantity"] for line in lines] == [1, 2]
        assert all(line["sku"].startswith("DEMO-") for line in lines)
    # The other demo accounts work too, with their roles.
    other = await log_in(client, "customer2", DEMO_PASSWORD)
    assert (await client.get(ORDERS, headers=bearer(other))).json()["items"] == []
    staff = await log_in(client, "staff", DEMO_PASSWORD)
    searched = await client.get(f"{ORDERS}/search", headers=bearer(staff))
    assert len(searched.json()["items"]) == 3
    admin = await log_in(client, "admin", DEMO_PASSWORD)
    summary = await client.get(
        f"{ORDERS}/sales-summary",
        params={"from": "2000-01-01", "to": "2000-01-02"},
        headers=bearer(admin),
    )
    assert summary.status_code == 200, summary.text


async def test_anonymous_visitors_browse_the_active_demo_products(
    settings: Settings, client: httpx.AsyncClient
) -> None:
    await DemoSeeder(settings, DEMO_PASSWORD).run()

    first_page = await client.get("/api/v1/products")
    assert first_page.status_code == 200, first_page.text
    assert len(first_page.json()["items"]) == 20
    products = await list_all(client, {"limit": 100})

    assert len(products) == 300
    assert {product["status"] for product in products} == {"active"}
    assert len({product["sku"] for product in products}) == 300
    assert all(product["sku"].startswith("DEMO-") for product in products)
    assert {product["currency"] for product in products} == {"EUR"}
    assert all(isinstance(product["price_amount"], str) for product in products)
    in_stock = await client.get("/api/v1/products", params={"in_stock": "true", "limit": 100})
    assert all(item["stock_on_hand"] > 0 for item in in_stock.json()["items"])
