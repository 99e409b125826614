"""Many requests at once over one app: stock is never oversold, opposite line orders do not
deadlock, and conflicting transitions of one order let exactly one win, with stock released
exactly once. Run with -s to see the figures."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable

import httpx

from tests.integration.order_support import (
    Shop,
    cancel,
    event_counts,
    new_product,
    open_shop,
    order_of,
    orders_of,
    paid,
    pay,
    place,
    placed,
    ship,
    stock_of,
)
from tests.integration.support import assert_problem
from tests.support.sql import sql_value

# Generous: a deadlock would surface as PostgreSQL's deadlock_timeout (1 s) plus a 500, and a
# lock-wait cycle without detection would hang; either way the bound is far above the real time.
DEADLINE_SECONDS = 60


async def _all(*requests: Awaitable[httpx.Response]) -> tuple[list[httpx.Response], float]:
    started = time.perf_counter()
    responses = await asyncio.wait_for(asyncio.gather(*requests), DEADLINE_SECONDS)
    return list(responses), time.perf_counter() - started


def _statuses(responses: list[httpx.Response]) -> Counter[int]:
    return Counter(response.status_code for response in responses)


async def test_a_hundred_concurrent_orders_for_ten_items_sell_exactly_ten(
    client: httpx.AsyncClient, database_url: str
) -> None:
    shop = await open_shop(client, database_url, customers=4)  # 5 customers
    product = await new_product(client, shop, "HOT-1", stock=10)

    responses, elapsed = await _all(
        *(place(client, shop.customers[n % 5], (product, 1)) for n in range(100))
    )

    statuses = _statuses(responses)
    other = 100 - statuses[201] - statuses[409]
    print(  # noqa: T201 - the figures are quoted from the -s output
        f"\n[oversell] 100 concurrent orders for 10 in stock, 5 customers: "
        f"accepted={statuses[201]} refused={statuses[409]} other={other} "
        f"elapsed={elapsed:.2f}s stock_left={await stock_of(client, database_url, product)}"
    )
    assert statuses == {201: 10, 409: 90}, statuses
    for response in responses:
        if response.status_code == 409:
            body = assert_problem(response, 409, "out_of_stock")
            assert body["available"] == 0, body
    assert await stock_of(client, database_url, product) == 0
    assert await sql_value(database_url, "SELECT count(*) FROM orders") == 10
    assert await sql_value(database_url, "SELECT coalesce(sum(quantity), 0) FROM order_lines") == 10
    accepted = {response.json()["id"] for response in responses if response.status_code == 201}
    assert len(accepted) == 10
    assert await event_counts(database_url) == Counter(
        ("OrderPlaced", order_id) for order_id in accepted
    )
    per_customer = sum([await orders_of(database_url, actor.id) for actor in shop.customers])
    assert per_customer == 10


async def test_varied_quantities_never_oversell(
    client: httpx.AsyncClient, database_url: str
) -> None:
    shop = await open_shop(client, database_url, customers=3)
    product = await new_product(client, shop, "HOT-2", stock=25)

    responses, _ = await _all(
        *(place(client, shop.customers[n % 4], (product, 1 + n % 3)) for n in range(40))
    )

    assert set(_statuses(responses)) <= {201, 409}, _statuses(responses)
    sold = sum(
        response.json()["lines"][0]["quantity"]
        for response in responses
        if response.status_code == 201
    )
    assert sold <= 25
    assert await stock_of(client, database_url, product) == 25 - sold
    assert (
        await sql_value(database_url, "SELECT coalesce(sum(quantity), 0) FROM order_lines") == sold
    )
    # Every refusal was real: what it asked for was more than what was left after all sales.
    for response in responses:
        if response.status_code == 409:
            assert_problem(response, 409, "out_of_stock")
            assert response.json()["requested"] > 25 - sold


async def test_orders_naming_two_products_in_opposite_orders_do_not_deadlock(
    client: httpx.AsyncClient, database_url: str
) -> None:
    shop = await open_shop(client, database_url, customers=3)
    first = await new_product(client, shop, "PAIR-A", stock=30)
    second = await new_product(client, shop, "PAIR-B", stock=30)

    requests = []
    for n in range(80):
        lines = ((first, 1), (second, 1)) if n % 2 == 0 else ((second, 1), (first, 1))
        requests.append(place(client, shop.customers[n % 4], *lines))
    responses, elapsed = await _all(*requests)

    statuses = _statuses(responses)
    print(  # noqa: T201
        f"\n[opposite line orders] 80 concurrent orders of A+B / B+A, 30 of each in stock: "
        f"accepted={statuses[201]} refused={statuses[409]} "
        f"other={80 - statuses[201] - statuses[409]} elapsed={elapsed:.2f}s"
    )
    assert statuses == {201: 30, 409: 50}, [r.text for r in responses if r.status_code >= 500]
    for response in responses:
        if response.status_code == 409:
            assert_problem(response, 409, "out_of_stock")
        else:
            # Line numbers follow each customer's order whichever way the locks were taken.
            lines = response.json()["lines"]
            assert [line["line_no"] for line in lines] == [1, 2]
            assert {line["product_id"] for line in lines} == {first, second}
    assert await stock_of(client, database_url, first) == 0
    assert await stock_of(client, database_url, second) == 0
    assert await sql_value(database_url, "SELECT count(*) FROM order_lines") == 60
    assert elapsed < 20, elapsed


async def test_mixed_baskets_over_shared_products_stay_consistent(
    client: httpx.AsyncClient, database_url: str
) -> None:
    shop = await open_shop(client, database_url, customers=3)
    products = [await new_product(client, shop, f"MIX-{n}", stock=15) for n in range(4)]
    baskets = [
        [(products[0], 1), (products[1], 2), (products[2], 1)],
        [(products[2], 2), (products[0], 1)],
        [(products[3], 1), (products[1], 1), (products[0], 1)],
        [(products[1], 1), (products[3], 3)],
    ]

    responses, elapsed = await _all(
        *(place(client, shop.customers[n % 4], *baskets[n % 4]) for n in range(60))
    )

    assert set(_statuses(responses)) <= {201, 409}, _statuses(responses)
    assert elapsed < 20, elapsed
    sold: Counter[str] = Counter()
    for response in responses:
        if response.status_code == 201:
            for line in response.json()["lines"]:
                sold[line["product_id"]] += line["quantity"]
        else:
            assert_problem(response, 409, "out_of_stock")
    for product in products:
        assert await stock_of(client, database_url, product) == 15 - sold[product], product
        assert sold[product] <= 15


# --- conflicting transitions of one order --------------------------------------------------------

ROUNDS = 6


async def _pending(client: httpx.AsyncClient, shop: Shop, product: str) -> str:
    return str((await placed(client, shop.alice, (product, 2)))["id"])


async def test_owner_paying_and_cancelling_at_once_lets_exactly_one_win(
    client: httpx.AsyncClient, database_url: str
) -> None:
    shop = await open_shop(client, database_url)
    product = await new_product(client, shop, "RACE-1", stock=100)
    winners: Counter[str] = Counter()
    expected_stock = 100

    for _ in range(ROUNDS):
        order_id = await _pending(client, shop, product)
        expected_stock -= 2
        (paying, cancelling), _ = await _all(
            pay(client, shop.alice, order_id), cancel(client, shop.alice, order_id, "changed mind")
        )
        final = await order_of(client, shop.alice, order_id)
        if paying.status_code == 200:
            winners["pay"] += 1
            assert final["status"] == "paid"
            # The cancel saw a paid order: customers may not cancel those (a refund is due).
            # invalid_order_transition/concurrent_modification would be fine too.
            assert (cancelling.status_code, cancelling.json()["code"]) in {
                (403, "cancellation_not_allowed"),
                (409, "invalid_order_transition"),
                (409, "concurrent_modification"),
            }, cancelling.text
        else:
            winners["cancel"] += 1
            assert cancelling.status_code == 200, cancelling.text
            assert paying.status_code == 409, paying.text
            assert paying.json()["code"] in {"invalid_order_transition", "concurrent_modification"}
            assert final["status"] == "cancelled"
            expected_stock += 2
        assert await stock_of(client, database_url, product) == expected_stock
        events = await event_counts(database_url)
        assert events[("OrderPaid", order_id)] == (1 if final["status"] == "paid" else 0)
        assert events[("OrderCancelled", order_id)] == (1 if final["status"] == "cancelled" else 0)
    print(f"\n[pay vs cancel] winners over {ROUNDS} rounds: {dict(winners)}")  # noqa: T201


async def test_staff_shipping_while_an_admin_cancels_lets_exactly_one_win(
    client: httpx.AsyncClient, database_url: str
) -> None:
    shop = await open_shop(client, database_url)
    product = await new_product(client, shop, "RACE-2", stock=100)
    winners: Counter[str] = Counter()
    expected_stock = 100

    for _ in range(ROUNDS):
        order_id = await _pending(client, shop, product)
        await paid(client, shop.alice, order_id)
        expected_stock -= 2
        (shipping, cancelling), _ = await _all(
            ship(client, shop.staff, order_id), cancel(client, shop.admin, order_id, "refund")
        )
        statuses = {shipping.status_code, cancelling.status_code}
        assert statuses == {200, 409}, (shipping.text, cancelling.text)
        loser = shipping if shipping.status_code == 409 else cancelling
        assert loser.json()["code"] in {"invalid_order_transition", "concurrent_modification"}
        final = await order_of(client, shop.admin, order_id)
        if shipping.status_code == 200:
            winners["ship"] += 1
            assert final["status"] == "shipped"
            assert final["cancelled_at"] is None
        else:
            winners["cancel"] += 1
            assert final["status"] == "cancelled"
            assert final["shipped_at"] is None
            expected_stock += 2
        assert await stock_of(client, database_url, product) == expected_stock
        events = await event_counts(database_url)
        assert events[("OrderShipped", order_id)] == (1 if final["status"] == "shipped" else 0)
        assert events[("OrderCancelled", order_id)] == (1 if final["status"] == "cancelled" else 0)
    print(f"\n[ship vs admin cancel] winners over {ROUNDS} rounds: {dict(winners)}")  # noqa: T201


async def test_many_concurrent_cancels_release_the_stock_exactly_once(
    client: httpx.AsyncClient, database_url: str
) -> None:
    shop = await open_shop(client, database_url)
    product = await new_product(client, shop, "RACE-3", stock=50)

    for _ in range(3):
        order_id = await _pending(client, shop, product)
        assert await stock_of(client, database_url, product) == 48
        actors = [shop.alice, shop.staff, shop.admin] * 4
        responses, _ = await _all(*(cancel(client, actor, order_id) for actor in actors))

        assert _statuses(responses) == {200: 1, 409: 11}, [r.text for r in responses]
        for response in responses:
            if response.status_code == 409:
                assert response.json()["code"] in {
                    "invalid_order_transition",
                    "concurrent_modification",
                }
        assert await stock_of(client, database_url, product) == 50
        assert (await event_counts(database_url))[("OrderCancelled", order_id)] == 1


async def test_many_concurrent_payments_charge_one_order_once(
    client: httpx.AsyncClient, database_url: str
) -> None:
    shop = await open_shop(client, database_url)
    product = await new_product(client, shop, "RACE-4", stock=50)
    order_id = await _pending(client, shop, product)

    responses, _ = await _all(*(pay(client, shop.alice, order_id) for _ in range(10)))

    assert _statuses(responses) == {200: 1, 409: 9}, [r.text for r in responses]
    references = {r.json()["payment_reference"] for r in responses if r.status_code == 200}
    final = await order_of(client, shop.alice, order_id)
    assert final["status"] == "paid"
    assert {final["payment_reference"]} == references
    assert (await event_counts(database_url))[("OrderPaid", order_id)] == 1
