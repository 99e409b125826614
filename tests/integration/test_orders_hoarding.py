"""Security review, finding 1 (high): one free account could take the whole catalog off sale by
placing unpaid orders (50 lines of up to 1,000 units, held 30 minutes, re-ordered after each
cancel). With the default bounds a customer holds at most 3 unpaid orders and 50 units in them,
orders at most 10 of one product, and orders from one address are rate limited together."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from app.bootstrap.settings import OrderingSettings
from tests.conftest import GENEROUS_HOLDINGS, build_settings
from tests.integration.conftest import ClientFactory
from tests.integration.order_support import (
    Shop,
    cancel,
    new_product,
    open_shop,
    place,
    stock_of,
)
from tests.integration.support import assert_problem, user_with_role

pytestmark = pytest.mark.owasp("API6", "API4")

# What a deployment gets: the settings' own defaults, not the generous ones of the other tests.
DEFAULT_HOLDINGS = {name: OrderingSettings.model_fields[name].default for name in GENEROUS_HOLDINGS}


async def _bounded(
    make_client: ClientFactory, database_url: str, redis_url: str, **extra: Any
) -> httpx.AsyncClient:
    return await make_client(
        build_settings(database_url, redis_url, ordering=DEFAULT_HOLDINGS, **extra)
    )


async def _catalog(client: httpx.AsyncClient, shop: Shop, count: int, stock: int) -> list[str]:
    return [await new_product(client, shop, f"HOARD-{i}", stock=stock) for i in range(count)]


async def test_one_customer_cannot_take_the_catalog_off_sale(
    client: httpx.AsyncClient, make_client: ClientFactory, database_url: str, redis_url: str
) -> None:
    shop = await open_shop(client, database_url)
    products = await _catalog(client, shop, 8, stock=20)
    bounded = await _bounded(make_client, database_url, redis_url)

    # The attack as reported: every product, as many units as the API allows per line.
    greedy = await place(bounded, shop.alice, *[(p, 1000) for p in products])
    assert_problem(greedy, 409, "too_many_units_of_product")
    # The most one order may hold per product, then more orders until the bounds say no.
    first = await place(bounded, shop.alice, *[(p, 10) for p in products[:5]])
    assert first.status_code == 201, first.text  # 50 units: exactly the bound
    more = await place(bounded, shop.alice, (products[5], 1))
    body = assert_problem(more, 409, "too_many_pending_units")
    assert body["max_pending_units"] == 50

    # Everyone else still finds every product on sale and can buy it.
    for product in products:
        assert await stock_of(client, database_url, product) >= 10
    listing = await client.get("/api/v1/products", params={"in_stock": "true", "limit": 100})
    assert {item["id"] for item in listing.json()["items"]} >= set(products)
    other = await place(bounded, shop.bob, *[(p, 10) for p in products[:5]])
    assert other.status_code == 201, other.text


async def test_a_customer_holds_at_most_three_unpaid_orders_and_cancelling_frees_a_place(
    client: httpx.AsyncClient, make_client: ClientFactory, database_url: str, redis_url: str
) -> None:
    shop = await open_shop(client, database_url)
    [product] = await _catalog(client, shop, 1, stock=100)
    bounded = await _bounded(make_client, database_url, redis_url)

    orders = [await place(bounded, shop.alice, (product, 1)) for _ in range(3)]
    assert [o.status_code for o in orders] == [201, 201, 201]
    fourth = await place(bounded, shop.alice, (product, 1))
    assert_problem(fourth, 409, "too_many_pending_orders")
    assert await stock_of(client, database_url, product) == 97  # the refused order reserved nothing

    cancelled = await cancel(bounded, shop.alice, orders[0].json()["id"])
    assert cancelled.status_code == 200, cancelled.text
    again = await place(bounded, shop.alice, (product, 1))
    assert again.status_code == 201, again.text


async def test_orders_placed_at_once_are_counted_in_turn(
    client: httpx.AsyncClient, make_client: ClientFactory, database_url: str, redis_url: str
) -> None:
    # Without the per-customer lock all eight see no pending order and all are placed.
    shop = await open_shop(client, database_url)
    [product] = await _catalog(client, shop, 1, stock=100)
    bounded = await _bounded(make_client, database_url, redis_url)

    responses = await asyncio.gather(*(place(bounded, shop.alice, (product, 1)) for _ in range(8)))

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] * 3 + [409] * 5, [r.text for r in responses]
    assert await stock_of(client, database_url, product) == 97


async def test_staff_orders_are_not_bounded_like_customers(
    client: httpx.AsyncClient, make_client: ClientFactory, database_url: str, redis_url: str
) -> None:
    shop = await open_shop(client, database_url)
    [product] = await _catalog(client, shop, 1, stock=1000)
    bounded = await _bounded(make_client, database_url, redis_url)

    for _ in range(4):
        response = await place(bounded, shop.staff, (product, 200))
        assert response.status_code == 201, response.text


async def test_orders_from_one_address_are_limited_across_accounts(
    client: httpx.AsyncClient, make_client: ClientFactory, database_url: str, redis_url: str
) -> None:
    shop = await open_shop(client, database_url, customers=4)
    [product] = await _catalog(client, shop, 1, stock=100)
    limited = await _bounded(
        make_client, database_url, redis_url, rate_limits={"place_order_per_address": "3/minute"}
    )
    carol = await user_with_role(client, shop.admin.tokens, "carol", "customer")

    for customer in (shop.alice, shop.bob, shop.customers[2]):
        assert (await place(limited, customer, (product, 1))).status_code == 201
    refused = await place(limited, carol, (product, 1))
    assert_problem(refused, 429, "rate_limited")
    assert await stock_of(client, database_url, product) == 97
