"""POST /api/v1/orders: what a placed order holds, stock reserved all-or-nothing, validation of
the basket (422 / 409 product_unavailable / out_of_stock), money as strings, and the per-customer
rate limit (429, idempotent replays not counted)."""

from __future__ import annotations

import re
import uuid
from decimal import Decimal

import httpx

from tests.conftest import build_settings
from tests.integration.conftest import ClientFactory
from tests.integration.order_support import (
    ORDERS,
    REPLAYED,
    new_product,
    open_shop,
    order_body,
    order_events,
    orders_of,
    place,
    placed,
    stock_of,
)
from tests.integration.support import assert_problem, assert_unauthorized, user_with_role


async def test_a_placed_order_captures_the_products_reserves_stock_and_awaits_payment(
    client: httpx.AsyncClient, database_url: str
) -> None:
    shop = await open_shop(client, database_url)
    mug = await new_product(client, shop, "MUG-1", stock=10, price="12.50", name="Mug")
    pot = await new_product(client, shop, "POT-1", stock=4, price="30", name="Teapot")

    response = await place(client, shop.alice, (pot, 1), (mug, 3))

    assert response.status_code == 201, response.text
    order = response.json()
    assert response.headers["Location"] == f"{ORDERS}/{order['id']}"
    assert REPLAYED not in response.headers
    assert order["customer_id"] == shop.alice.id
    assert order["status"] == "pending_payment"
    assert order["currency"] == "EUR"
    assert order["total_amount"] == "67.50"
    # Lines keep the customer's order (not the id order the stock was locked in).
    assert [
        (line["line_no"], line["sku"], line["name"], line["unit_price"], line["quantity"])
        for line in order["lines"]
    ] == [(1, "POT-1", "Teapot", "30.00", 1), (2, "MUG-1", "Mug", "12.50", 3)]
    assert [line["line_total"] for line in order["lines"]] == ["30.00", "37.50"]
    assert [line["product_id"] for line in order["lines"]] == [pot, mug]
    for field in ("paid_at", "payment_reference", "shipped_at", "delivered_at", "cancelled_at"):
        assert order[field] is None, field
    assert order["cancellation_reason"] is None
    assert await stock_of(client, database_url, mug) == 7
    assert await stock_of(client, database_url, pot) == 3
    # The read side shows the same order.
    fetched = await client.get(f"{ORDERS}/{order['id']}", headers=shop.alice.headers)
    assert fetched.status_code == 200, fetched.text
    assert fetched.json()["lines"] == order["lines"]
    assert fetched.json()["total_amount"] == order["total_amount"]


async def test_money_fields_are_decimal_strings_in_json(
    client: httpx.AsyncClient, database_url: str
) -> None:
    shop = await open_shop(client, database_url)
    product = await new_product(client, shop, "PEN-1", price="0.10", stock=50)

    order = await placed(client, shop.alice, (product, 3))

    assert isinstance(order["total_amount"], str)
    assert order["total_amount"] == "0.30"  # never a float's 0.30000000000000004
    line = order["lines"][0]
    assert isinstance(line["unit_price"], str)
    assert isinstance(line["line_total"], str)
    assert Decimal(line["line_total"]) == Decimal("0.30")
    listed = await client.get(ORDERS, headers=shop.alice.headers)
    assert listed.json()["items"][0]["total_amount"] == "0.30"


async def test_zero_decimal_currencies_keep_their_scale(
    client: httpx.AsyncClient, database_url: str
) -> None:
    shop = await open_shop(client, database_url)
    product = await new_product(client, shop, "YEN-1", price="1500", currency="JPY")

    order = await placed(client, shop.alice, (product, 2))

    assert (order["total_amount"], order["currency"]) == ("3000", "JPY")
    fetched = await client.get(f"{ORDERS}/{order['id']}", headers=shop.alice.headers)
    assert fetched.json()["total_amount"] == "3000"
    assert fetched.json()["lines"][0]["unit_price"] == "1500"


async def test_a_product_listed_twice_is_merged_into_one_line(
    client: httpx.AsyncClient, database_url: str
) -> None:
    shop = await open_shop(client, database_url)
    product = await new_product(client, shop, "MUG-1", stock=10)

    order = await placed(client, shop.alice, (product, 2), (product, 3))

    assert [(line["line_no"], line["quantity"]) for line in order["lines"]] == [(1, 5)]
    assert await stock_of(client, database_url, product) == 5


async def test_prices_are_those_of_the_moment_the_order_was_placed(
    client: httpx.AsyncClient, database_url: str
) -> None:
    shop = await open_shop(client, database_url)
    product = await new_product(client, shop, "MUG-1", price="12.50")
    order = await placed(client, shop.alice, (product, 2))

    changed = await client.put(
        f"/api/v1/products/{product}/price",
        json={"amount": "99.00", "currency": "EUR"},
        headers=shop.staff.headers,
    )
    assert changed.status_code == 204, changed.text

    fetched = await client.get(f"{ORDERS}/{order['id']}", headers=shop.alice.headers)
    assert fetched.json()["lines"][0]["unit_price"] == "12.50"
    assert fetched.json()["total_amount"] == "25.00"
    later = await placed(client, shop.alice, (product, 1))
    assert later["total_amount"] == "99.00"


async def test_out_of_stock_refuses_the_whole_order_and_reserves_nothing(
    client: httpx.AsyncClient, database_url: str
) -> None:
    shop = await open_shop(client, database_url)
    plenty = await new_product(client, shop, "A-1", stock=10)
    scarce = await new_product(client, shop, "B-1", stock=2)

    response = await place(client, shop.alice, (plenty, 4), (scarce, 3))

    body = assert_problem(response, 409, "out_of_stock")
    assert body["product_id"] == scarce
    assert (body["requested"], body["available"]) == (3, 2)
    assert await stock_of(client, database_url, plenty) == 10
    assert await stock_of(client, database_url, scarce) == 2
    assert await orders_of(database_url, shop.alice.id) == 0
    assert await order_events(database_url) == []
    # Exactly what is left can still be ordered.
    await placed(client, shop.alice, (scarce, 2))
    assert await stock_of(client, database_url, scarce) == 0


async def test_an_unknown_product_is_unavailable(
    client: httpx.AsyncClient, database_url: str
) -> None:
    shop = await open_shop(client, database_url)
    known = await new_product(client, shop, "A-1", stock=10)
    unknown = str(uuid.uuid4())

    response = await place(client, shop.alice, (known, 1), (unknown, 1))

    body = assert_problem(response, 409, "product_unavailable")
    assert body["product_id"] == unknown
    assert await stock_of(client, database_url, known) == 10
    assert await orders_of(database_url, shop.alice.id) == 0


async def test_an_archived_product_is_unavailable_until_reactivated(
    client: httpx.AsyncClient, database_url: str
) -> None:
    shop = await open_shop(client, database_url)
    product = await new_product(client, shop, "A-1", stock=10)
    archived = await client.post(f"/api/v1/products/{product}/archive", headers=shop.staff.headers)
    assert archived.status_code == 204, archived.text

    body = assert_problem(await place(client, shop.alice, (product, 1)), 409, "product_unavailable")
    assert body["product_id"] == product
    assert await stock_of(client, database_url, product) == 10

    reactivated = await client.post(
        f"/api/v1/products/{product}/reactivate", headers=shop.staff.headers
    )
    assert reactivated.status_code == 204, reactivated.text
    await placed(client, shop.alice, (product, 1))
    assert await stock_of(client, database_url, product) == 9


async def test_two_currencies_in_one_order_are_refused_and_nothing_is_reserved(
    client: httpx.AsyncClient, database_url: str
) -> None:
    shop = await open_shop(client, database_url)
    euros = await new_product(client, shop, "EUR-1", stock=5, currency="EUR")
    dollars = await new_product(client, shop, "USD-1", stock=5, currency="USD")

    response = await place(client, shop.alice, (euros, 1), (dollars, 1))

    # Stock was reserved before the total was computed: the rollback must give it back.
    assert_problem(response, 422, "currency_mismatch")
    assert await stock_of(client, database_url, euros) == 5
    assert await stock_of(client, database_url, dollars) == 5
    assert await orders_of(database_url, shop.alice.id) == 0
    assert await order_events(database_url) == []


async def test_the_basket_is_validated_before_anything_is_reserved(
    client: httpx.AsyncClient, database_url: str
) -> None:
    shop = await open_shop(client, database_url)
    product = await new_product(client, shop, "A-1", stock=2000)
    headers = shop.alice.headers

    cases = {
        "empty": {"lines": []},
        "no lines": {},
        "51 lines": order_body(*((str(uuid.uuid4()), 1) for _ in range(51))),
        "quantity 0": order_body((product, 0)),
        "quantity -1": order_body((product, -1)),
        "quantity 1001": order_body((product, 1001)),
        "quantity not an integer": {"lines": [{"product_id": product, "quantity": 1.5}]},
        "non-UUID product": order_body(("not-a-uuid", 1)),
        "missing quantity": {"lines": [{"product_id": product}]},
    }
    for name, body in cases.items():
        response = await client.post(ORDERS, json=body, headers=headers)
        problem = assert_problem(response, 422, "validation_error")
        assert problem["errors"], name
    malformed = await client.post(
        ORDERS, content=b"{not json", headers={**headers, "Content-Type": "application/json"}
    )
    assert_problem(malformed, 422, "validation_error")
    assert await stock_of(client, database_url, product) == 2000
    assert await orders_of(database_url, shop.alice.id) == 0


async def test_quantity_bounds_apply_to_the_merged_line(
    client: httpx.AsyncClient, database_url: str
) -> None:
    shop = await open_shop(client, database_url)
    product = await new_product(client, shop, "A-1", stock=3000)

    response = await place(client, shop.alice, (product, 600), (product, 600))

    body = assert_problem(response, 422, "invalid_quantity")
    assert body["max"] == 1000
    assert await stock_of(client, database_url, product) == 3000
    edge = await placed(client, shop.alice, (product, 1000))
    assert edge["lines"][0]["quantity"] == 1000
    one = await placed(client, shop.alice, (product, 1))
    assert one["lines"][0]["quantity"] == 1
    assert await stock_of(client, database_url, product) == 1999


async def test_fifty_products_make_the_largest_order(
    client: httpx.AsyncClient, database_url: str
) -> None:
    shop = await open_shop(client, database_url)
    products = [await new_product(client, shop, f"P-{n:02d}", stock=1) for n in range(50)]

    order = await placed(client, shop.alice, *((product, 1) for product in products))

    assert [line["line_no"] for line in order["lines"]] == list(range(1, 51))
    assert [line["product_id"] for line in order["lines"]] == products
    assert order["total_amount"] == "625.00"
    for product in products:
        assert await stock_of(client, database_url, product) == 0


async def test_any_signed_in_role_may_order_but_anonymous_callers_may_not(
    client: httpx.AsyncClient, database_url: str
) -> None:
    shop = await open_shop(client, database_url)
    product = await new_product(client, shop, "A-1", stock=10)

    for actor in (shop.staff, shop.admin, shop.root):
        order = await placed(client, actor, (product, 1))
        assert order["customer_id"] == actor.id
    assert_unauthorized(await place(client, None, (product, 1)), "not_authenticated")
    bogus = await client.post(
        ORDERS, json=order_body((product, 1)), headers={"Authorization": "Bearer nonsense"}
    )
    assert bogus.status_code == 401, bogus.text
    assert await stock_of(client, database_url, product) == 7


# --- rate limit ------------------------------------------------------------------------------


def assert_rate_limited(response: httpx.Response) -> None:
    assert_problem(response, 429, "rate_limited")
    retry_after = int(response.headers["Retry-After"])
    assert 0 < retry_after <= 60, response.headers
    assert response.headers["RateLimit-Policy"] == "3;w=60"
    assert re.fullmatch(r"limit=3, remaining=0, reset=\d+", response.headers["RateLimit"])


async def test_the_fourth_order_within_a_minute_is_429_and_replays_do_not_count(
    make_client: ClientFactory, client: httpx.AsyncClient, database_url: str, redis_url: str
) -> None:
    shop = await open_shop(client, database_url)
    product = await new_product(client, shop, "A-1", stock=100)
    limited = await make_client(
        build_settings(database_url, redis_url, rate_limits={"place_order_per_user": "3/minute"})
    )

    first = await place(limited, shop.alice, (product, 1), key="k-1")
    assert first.status_code == 201, first.text
    # Replays of the first order, however many, place nothing and count nothing.
    for _ in range(3):
        replay = await place(limited, shop.alice, (product, 1), key="k-1")
        assert replay.status_code == 201, replay.text
        assert replay.headers[REPLAYED] == "true"
        assert replay.json() == first.json()
    for key in ("k-2", None):
        response = await place(limited, shop.alice, (product, 1), key=key)
        assert response.status_code == 201, response.text

    fourth = await place(limited, shop.alice, (product, 1), key="k-4")
    assert_rate_limited(fourth)
    assert_rate_limited(await place(limited, shop.alice, (product, 1)))
    # A replay still answers once the limit is reached; the refused key was not spent.
    late_replay = await place(limited, shop.alice, (product, 1), key="k-1")
    assert late_replay.status_code == 201, late_replay.text
    assert late_replay.headers[REPLAYED] == "true"
    assert await orders_of(database_url, shop.alice.id) == 3
    assert await stock_of(client, database_url, product) == 97
    # The limit is per customer.
    other = await place(limited, shop.bob, (product, 1))
    assert other.status_code == 201, other.text


async def test_a_refused_order_still_counts_towards_the_rate_limit(
    make_client: ClientFactory, client: httpx.AsyncClient, database_url: str, redis_url: str
) -> None:
    shop = await open_shop(client, database_url)
    product = await new_product(client, shop, "A-1", stock=1)
    limited = await make_client(
        build_settings(database_url, redis_url, rate_limits={"place_order_per_user": "3/minute"})
    )
    carol = await user_with_role(client, shop.admin.tokens, "carol", "customer")

    assert (await place(limited, carol, (product, 1))).status_code == 201
    for _ in range(2):
        assert_problem(await place(limited, carol, (product, 1)), 409, "out_of_stock")
    assert_rate_limited(await place(limited, carol, (product, 1)))


async def test_an_order_total_beyond_the_largest_amount_is_refused_without_reserving(
    client: httpx.AsyncClient, database_url: str
) -> None:
    shop = await open_shop(client, database_url)
    dear = await new_product(client, shop, "DEAR-1", stock=10, price="9999999999.99")
    half = await new_product(client, shop, "HALF-1", stock=10, price="5000000000.00")

    for lines in (((dear, 2),), ((half, 1), (dear, 1))):
        response = await place(client, shop.alice, *lines)
        assert_problem(response, 422, "invalid_money")
    assert await stock_of(client, database_url, dear) == 10
    assert await stock_of(client, database_url, half) == 10
    assert await orders_of(database_url, shop.alice.id) == 0
    largest = await placed(client, shop.alice, (dear, 1))
    assert largest["total_amount"] == "9999999999.99"


async def test_a_boolean_is_not_a_quantity(client: httpx.AsyncClient, database_url: str) -> None:
    """The domain refuses bools on purpose (value_objects.ensure_quantity: "True must not order
    one item"); the HTTP layer must not turn ``true`` into 1 before the domain sees it."""
    shop = await open_shop(client, database_url)
    product = await new_product(client, shop, "BOOL-1", stock=10)

    response = await client.post(
        ORDERS,
        json={"lines": [{"product_id": product, "quantity": True}]},
        headers=shop.alice.headers,
    )

    assert response.status_code == 422, response.text
    assert await stock_of(client, database_url, product) == 10
    assert await orders_of(database_url, shop.alice.id) == 0
