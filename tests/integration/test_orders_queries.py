"""Order queries over HTTP: my orders (status filter, keyset pages without gaps or duplicates),
staff search (status, creation range, customer), and the admin sales summary (orders and
revenue per UTC day, status and currency)."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx

from tests.integration.order_support import (
    ORDERS,
    Shop,
    cancel,
    list_ids,
    list_pages,
    new_product,
    open_shop,
    paid,
    placed,
    ship,
)
from tests.integration.support import assert_problem
from tests.support.sql import sql_execute

SEARCH = f"{ORDERS}/search"
SALES = f"{ORDERS}/sales-summary"


async def _backdate(database_url: str, order_id: str, at: datetime) -> None:
    result = await sql_execute(
        database_url, "UPDATE orders SET created_at = $2 WHERE id = $1", order_id, at
    )
    assert result == "UPDATE 1"


async def _orders(
    client: httpx.AsyncClient, shop: Shop, product: str, count: int, *, customer: int = 0
) -> list[dict[str, Any]]:
    return [await placed(client, shop.customers[customer], (product, 1)) for _ in range(count)]


async def test_my_orders_come_newest_first_in_pages_without_gaps_or_duplicates(
    client: httpx.AsyncClient, database_url: str
) -> None:
    shop = await open_shop(client, database_url)
    product = await new_product(client, shop, "Q-1", stock=100)
    created = [order["id"] for order in await _orders(client, shop, product, 7)]
    await _orders(client, shop, product, 2, customer=1)  # bob's: never in alice's listing

    for limit in (1, 2, 3, 7, 100):
        pages = await list_pages(client, shop.alice, params={"limit": limit})
        ids = [item["id"] for page in pages for item in page]
        assert ids == created[::-1], limit
        assert all(len(page) <= limit for page in pages)
        assert len(pages) == max(1, -(-7 // limit))  # no empty trailing page
    first_page = (await client.get(ORDERS, headers=shop.alice.headers)).json()
    assert len(first_page["items"]) == 7  # default limit 20
    assert first_page["next_cursor"] is None
    item = first_page["items"][0]
    assert set(item) == {
        "id", "customer_id", "status", "total_amount", "currency", "created_at", "updated_at"
    }  # fmt: skip
    assert (item["total_amount"], item["currency"]) == ("12.50", "EUR")


async def test_orders_placed_at_the_same_instant_are_paged_by_id(
    client: httpx.AsyncClient, database_url: str
) -> None:
    shop = await open_shop(client, database_url)
    product = await new_product(client, shop, "Q-2", stock=100)
    orders = await _orders(client, shop, product, 6)
    same = datetime(2024, 5, 5, 12, 0, tzinfo=UTC)
    for order in orders:
        await _backdate(database_url, order["id"], same)

    ids = await list_ids(client, shop.alice, params={"limit": 2})

    assert sorted(ids) == sorted(order["id"] for order in orders)
    assert len(ids) == len(set(ids)) == 6
    assert ids == sorted(ids, reverse=True)  # ties broken by id, descending (uuid = hex order)


async def test_my_orders_filtered_by_status(client: httpx.AsyncClient, database_url: str) -> None:
    shop = await open_shop(client, database_url)
    product = await new_product(client, shop, "Q-3", stock=100)
    ids = [order["id"] for order in await _orders(client, shop, product, 8)]
    for order_id in ids[:4]:
        await paid(client, shop.alice, order_id)
    assert (await ship(client, shop.staff, ids[0])).status_code == 200
    assert (await cancel(client, shop.alice, ids[4])).status_code == 200
    expected = {
        "pending_payment": ids[5:],
        "paid": ids[1:4],
        "shipped": ids[:1],
        "cancelled": ids[4:5],
        "delivered": [],
        "expired": [],
    }

    for status, wanted in expected.items():
        got = await list_ids(client, shop.alice, params={"status": status, "limit": 2})
        assert got == wanted[::-1], status
    unknown = await client.get(ORDERS, params={"status": "lost"}, headers=shop.alice.headers)
    assert_problem(unknown, 422, "validation_error")


async def test_bad_cursors_and_limits_are_422(client: httpx.AsyncClient, database_url: str) -> None:
    shop = await open_shop(client, database_url)
    product = await new_product(client, shop, "Q-4", stock=100)
    await new_product(client, shop, "Q-5", stock=100)
    await _orders(client, shop, product, 3)
    products_cursor = (
        await client.get("/api/v1/products", params={"limit": 1}, headers=shop.staff.headers)
    ).json()["next_cursor"]
    assert products_cursor

    def encoded(value: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    bad_cursors = [
        "garbage",
        "!!!",
        encoded(["orders:-created_at", "not a date", "0b6a4d5e-6c1f-4f0e-9d55-3b1fd1f4a2c7"]),
        encoded(
            ["orders:-created_at", "2024-01-01T00:00:00", "0b6a4d5e-6c1f-4f0e-9d55-3b1fd1f4a2c7"]
        ),
        encoded(["orders:-created_at", "2024-01-01T00:00:00+00:00", "not-a-uuid"]),
        encoded(["products", "2024-01-01T00:00:00+00:00", "0b6a4d5e-6c1f-4f0e-9d55-3b1fd1f4a2c7"]),
        encoded({"a": 1}),
        # Offsets that push the instant outside datetime's range when converted to UTC.
        encoded(["orders:-created_at", "0001-01-01T00:00:00+14:00", str(uuid.uuid4())]),
        encoded(["orders:-created_at", "9999-12-31T23:59:59-14:00", str(uuid.uuid4())]),
        encoded(["orders:-created_at", 20240101, str(uuid.uuid4())]),
        products_cursor,
    ]
    for path, actor in ((ORDERS, shop.alice), (SEARCH, shop.staff)):
        for cursor in bad_cursors:
            response = await client.get(path, params={"cursor": cursor}, headers=actor.headers)
            assert_problem(response, 422, "invalid_cursor")
        for params in ({"limit": 0}, {"limit": 101}, {"limit": "x"}, {"cursor": "x" * 513}):
            response = await client.get(path, params=params, headers=actor.headers)
            assert_problem(response, 422, "validation_error")
    # A genuine cursor works on the next request.
    page = (await client.get(ORDERS, params={"limit": 1}, headers=shop.alice.headers)).json()
    follow = await client.get(
        ORDERS, params={"limit": 1, "cursor": page["next_cursor"]}, headers=shop.alice.headers
    )
    assert follow.status_code == 200, follow.text


async def test_staff_search_by_status_customer_and_creation_range(
    client: httpx.AsyncClient, database_url: str
) -> None:
    shop = await open_shop(client, database_url)
    product = await new_product(client, shop, "Q-6", stock=100)
    base = datetime(2024, 3, 10, 9, 0, tzinfo=UTC)
    orders: dict[str, dict[str, Any]] = {}
    # name: (customer index, hours after base, paid?)
    plan = {
        "a1": (0, 0, False),
        "a2": (0, 5, True),
        "a3": (0, 24, True),
        "b1": (1, 1, False),
        "b2": (1, 23, True),
        "b3": (1, 48, False),
    }
    for name, (customer, hours, is_paid) in plan.items():
        order = await placed(client, shop.customers[customer], (product, 1))
        if is_paid:
            await paid(client, shop.customers[customer], order["id"])
        await _backdate(database_url, order["id"], base + timedelta(hours=hours))
        orders[name] = order

    async def search(**params: Any) -> list[str]:
        ids = await list_ids(client, shop.staff, SEARCH, params={"limit": 2, **params})
        by_id = {order["id"]: name for name, order in orders.items()}
        return [by_id[order_id] for order_id in ids]

    assert await search() == ["b3", "a3", "b2", "a2", "b1", "a1"]
    assert await search(status="paid") == ["a3", "b2", "a2"]
    assert await search(status="pending_payment") == ["b3", "b1", "a1"]
    assert await search(customer_id=shop.bob.id) == ["b3", "b2", "b1"]
    assert await search(customer_id=shop.bob.id, status="paid") == ["b2"]
    assert await search(customer_id=shop.customers[2].id) == []
    # [from, to): from inclusive, to exclusive.
    day = {"created_from": "2024-03-10T09:00:00Z", "created_to": "2024-03-11T09:00:00Z"}
    assert await search(**day) == ["b2", "a2", "b1", "a1"]
    assert await search(**day, status="paid") == ["b2", "a2"]
    assert await search(**day, customer_id=shop.alice.id) == ["a2", "a1"]
    assert await search(created_from="2024-03-11T09:00:00+00:00") == ["b3", "a3"]
    assert await search(created_to="2024-03-10T10:00:00Z") == ["a1"]
    # An offset is honoured; no offset means UTC.
    assert await search(
        created_from="2024-03-10T12:00:00+02:00", created_to="2024-03-10T13:00:00+02:00"
    ) == ["b1"]
    assert await search(created_from="2024-03-10T10:00:00", created_to="2024-03-10T14:30:00") == [
        "a2",
        "b1",
    ]
    assert await search(created_from="2025-01-01T00:00:00Z") == []


async def test_search_refuses_a_backwards_range_and_bad_values(
    client: httpx.AsyncClient, database_url: str
) -> None:
    shop = await open_shop(client, database_url)
    headers = shop.staff.headers

    for created_from, created_to in (
        ("2024-03-11T00:00:00Z", "2024-03-10T00:00:00Z"),
        ("2024-03-10T00:00:00Z", "2024-03-10T00:00:00Z"),
        ("2024-03-10T02:00:00+02:00", "2024-03-10T00:00:00Z"),  # the same instant
    ):
        response = await client.get(
            SEARCH, params={"created_from": created_from, "created_to": created_to}, headers=headers
        )
        assert_problem(response, 422, "invalid_date_range")
    for params in (
        {"created_from": "yesterday"},
        # Numbers are not seconds since 1970 here: "20240101" was 1970-08-23T06:15:01Z.
        {"created_to": "0.5"},
        {"created_from": "20240101"},
        {"created_from": "2024-03-10"},  # a day is not a moment
        {"customer_id": "not-a-uuid"},
        {"status": "lost"},
    ):
        assert_problem(
            await client.get(SEARCH, params=params, headers=headers), 422, "validation_error"
        )


async def test_the_sales_summary_counts_orders_and_revenue_per_day_status_and_currency(
    client: httpx.AsyncClient, database_url: str
) -> None:
    shop = await open_shop(client, database_url)
    euro = await new_product(client, shop, "S-EUR", stock=100, price="10.25")
    dollar = await new_product(client, shop, "S-USD", stock=100, price="3.10", currency="USD")
    yen = await new_product(client, shop, "S-JPY", stock=100, price="500", currency="JPY")

    async def order(product: str, quantity: int, at: str, *, then: str | None = None) -> None:
        placed_order = await placed(client, shop.alice, (product, quantity))
        if then in {"paid", "shipped"}:
            await paid(client, shop.alice, placed_order["id"])
        if then == "shipped":
            assert (await ship(client, shop.staff, placed_order["id"])).status_code == 200
        if then == "cancelled":
            assert (await cancel(client, shop.alice, placed_order["id"])).status_code == 200
        await _backdate(database_url, placed_order["id"], datetime.fromisoformat(at))

    # 2024-02-28 (the day before the range): never counted.
    await order(euro, 1, "2024-02-28T23:59:59.999999+00:00", then="paid")
    # 2024-02-29
    await order(euro, 2, "2024-02-29T00:00:00+00:00", then="paid")  # 20.50
    await order(euro, 1, "2024-02-29T12:00:00+00:00", then="paid")  # 10.25
    await order(euro, 3, "2024-02-29T13:00:00+00:00")  # 30.75 pending
    await order(dollar, 5, "2024-02-29T14:00:00+00:00", then="paid")  # 15.50 USD
    await order(yen, 3, "2024-02-29T23:59:59+00:00", then="cancelled")  # 1500 JPY
    # 2024-03-01: 23:30 at UTC-02:00 is 01:30 UTC on March 1st.
    await order(euro, 4, "2024-02-29T23:30:00-02:00", then="shipped")  # 41.00
    await order(yen, 1, "2024-03-01T08:00:00+00:00", then="paid")  # 500 JPY
    await order(yen, 2, "2024-03-01T09:00:00+00:00", then="paid")  # 1000 JPY
    # 2024-03-02 (the day after the range): never counted.
    await order(dollar, 1, "2024-03-02T00:00:00+00:00", then="paid")

    response = await client.get(
        SALES, params={"from": "2024-02-29", "to": "2024-03-01"}, headers=shop.admin.headers
    )

    assert response.status_code == 200, response.text
    summary = response.json()
    assert (summary["first_day"], summary["last_day"]) == ("2024-02-29", "2024-03-01")
    rows = [
        (row["day"], row["status"], row["currency"], row["order_count"], row["revenue"])
        for row in summary["rows"]
    ]
    assert rows == [
        ("2024-02-29", "cancelled", "JPY", 1, "1500"),
        ("2024-02-29", "paid", "EUR", 2, "30.75"),
        ("2024-02-29", "paid", "USD", 1, "15.50"),
        ("2024-02-29", "pending_payment", "EUR", 1, "30.75"),
        ("2024-03-01", "paid", "JPY", 2, "1500"),
        ("2024-03-01", "shipped", "EUR", 1, "41.00"),
    ]
    assert all(isinstance(row["revenue"], str) for row in summary["rows"])
    one_day = await client.get(
        SALES, params={"from": "2024-03-02", "to": "2024-03-02"}, headers=shop.admin.headers
    )
    assert [
        (row["status"], row["currency"], row["order_count"], row["revenue"])
        for row in one_day.json()["rows"]
    ] == [("paid", "USD", 1, "3.10")]


async def test_the_sales_summary_counts_orders_placed_just_now(
    client: httpx.AsyncClient, database_url: str
) -> None:
    shop = await open_shop(client, database_url)
    product = await new_product(client, shop, "S-NOW", stock=100, price="7.00")
    orders = [await placed(client, shop.alice, (product, n + 1)) for n in range(4)]
    orders[0] = await paid(client, shop.alice, orders[0]["id"])
    expected: dict[tuple[str, str], tuple[int, Decimal]] = {}
    for order in orders:
        day = datetime.fromisoformat(order["created_at"]).astimezone(UTC).date().isoformat()
        count, revenue = expected.get((day, order["status"]), (0, Decimal(0)))
        expected[day, order["status"]] = (count + 1, revenue + Decimal(order["total_amount"]))
    days = sorted(day for day, _ in expected)

    response = await client.get(
        SALES, params={"from": days[0], "to": days[-1]}, headers=shop.admin.headers
    )

    assert response.status_code == 200, response.text
    assert [
        (row["day"], row["status"], row["currency"], row["order_count"], row["revenue"])
        for row in response.json()["rows"]
    ] == [
        (day, status, "EUR", count, str(revenue))
        for (day, status), (count, revenue) in sorted(expected.items())
    ]
    # 1 x 7.00 paid; 2 + 3 + 4 = 9 x 7.00 = 63.00 pending (when all fall on one UTC day).
    if len(days) == 1:
        assert {status: value for (_, status), value in expected.items()} == {
            "paid": (1, Decimal("7.00")),
            "pending_payment": (3, Decimal("63.00")),
        }


async def test_the_sales_summary_range_is_checked(
    client: httpx.AsyncClient, database_url: str
) -> None:
    shop = await open_shop(client, database_url)
    headers = shop.admin.headers

    for first, last in (("2024-03-02", "2024-03-01"), ("2024-01-01", "2025-01-01")):
        response = await client.get(SALES, params={"from": first, "to": last}, headers=headers)
        body = assert_problem(response, 422, "invalid_date_range")
        assert (body["first_day"], body["last_day"]) == (first, last)
    widest = await client.get(
        SALES, params={"from": "2024-01-01", "to": "2024-12-31"}, headers=headers
    )
    assert widest.status_code == 200, widest.text  # 366 days (a leap year)
    for params in (
        {"from": "2024-01-01"},
        {"to": "2024-01-01"},
        {"from": "x", "to": "2024-01-01"},
        {"from": "0", "to": "86400"},  # not days since 1970
        {"from": "2024-01-01T00:00:00", "to": "2024-01-02"},
    ):
        assert_problem(
            await client.get(SALES, params=params, headers=headers), 422, "validation_error"
        )


async def test_search_times_at_the_edge_of_the_calendar_are_not_a_server_error(
    client: httpx.AsyncClient, database_url: str
) -> None:
    """Valid ISO 8601 times whose UTC instant falls outside datetime's range: the cursor decoder
    guards against exactly this (OverflowError -> 422), the search parameters must too."""
    shop = await open_shop(client, database_url)

    for params in (
        {"created_from": "0001-01-01T00:00:00+14:00"},
        {"created_to": "9999-12-31T23:59:59-14:00"},
    ):
        response = await client.get(SEARCH, params=params, headers=shop.staff.headers)
        assert response.status_code == 422, (params, response.status_code, response.text)
    # The same bounds without an offset are simply far away.
    for params in (
        {"created_from": "0001-01-01T00:00:00Z"},
        {"created_to": "9999-12-31T23:59:59Z"},
    ):
        response = await client.get(SEARCH, params=params, headers=shop.staff.headers)
        assert response.status_code == 200, response.text


async def test_the_sales_summary_up_to_the_last_day_of_the_calendar_is_not_a_server_error(
    client: httpx.AsyncClient, database_url: str
) -> None:
    shop = await open_shop(client, database_url)

    first_days = await client.get(
        SALES, params={"from": "0001-01-01", "to": "0001-01-02"}, headers=shop.admin.headers
    )
    assert first_days.status_code == 200, first_days.text
    last_days = await client.get(
        SALES, params={"from": "9999-12-29", "to": "9999-12-30"}, headers=shop.admin.headers
    )
    assert last_days.status_code == 200, last_days.text
    # A range that takes in the calendar's last day would end after it: refused, not a 500.
    past_the_end = await client.get(
        SALES, params={"from": "9999-12-30", "to": "9999-12-31"}, headers=shop.admin.headers
    )
    assert_problem(past_the_end, 422, "invalid_date_range")
