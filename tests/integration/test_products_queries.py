"""Catalog reads over HTTP: one product by id or SKU, and the filtered, sorted, paged listing."""

from __future__ import annotations

import base64
import json
import uuid
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.integration.catalog_support import PRODUCTS, create_product, get_product, list_all
from tests.integration.support import Staffing, assert_problem, assert_unauthorized


async def _archived_product(client: httpx.AsyncClient, team: Staffing) -> str:
    product_id = await create_product(client, team.staff.headers, sku="OLD-1", name="Old mug")
    response = await client.post(f"{PRODUCTS}/{product_id}/archive", headers=team.staff.headers)
    assert response.status_code == 204, response.text
    return product_id


# --- one product ------------------------------------------------------------------------------


async def test_get_by_id_and_by_sku(client: httpx.AsyncClient, team: Staffing) -> None:
    product_id = await create_product(client, team.staff.headers, sku="mug-001")
    by_id = await client.get(f"{PRODUCTS}/{product_id}")
    assert by_id.status_code == 200
    for sku in ("MUG-001", "mug-001", "Mug-001"):
        by_sku = await client.get(f"{PRODUCTS}/by-sku/{sku}")
        assert by_sku.status_code == 200, by_sku.text
        assert by_sku.json() == by_id.json()
    assert isinstance(by_id.json()["price_amount"], str)
    # Customers and staff see active products alike.
    assert (await get_product(client, product_id, team.customer.headers)) == by_id.json()


async def test_unknown_products_are_404(client: httpx.AsyncClient, team: Staffing) -> None:
    await create_product(client, team.staff.headers)
    assert_problem(await client.get(f"{PRODUCTS}/{uuid.uuid4()}"), 404, "product_not_found")
    assert_problem(await client.get(f"{PRODUCTS}/by-sku/NOPE-1"), 404, "product_not_found")
    # A string that could never be a SKU is simply not found.
    assert_problem(await client.get(f"{PRODUCTS}/by-sku/x"), 404, "product_not_found")
    assert_problem(
        await client.get(f"{PRODUCTS}/{uuid.uuid4()}", headers=team.staff.headers),
        404,
        "product_not_found",
    )
    assert_problem(await client.get(f"{PRODUCTS}/not-a-uuid"), 422, "validation_error")
    assert_problem(await client.get(f"{PRODUCTS}/by-sku/{'x' * 65}"), 422, "validation_error")


async def test_archived_products_are_404_except_for_staff(
    client: httpx.AsyncClient, team: Staffing
) -> None:
    product_id = await _archived_product(client, team)
    for headers in ({}, team.customer.headers):
        assert_problem(
            await client.get(f"{PRODUCTS}/{product_id}", headers=headers), 404, "product_not_found"
        )
        assert_problem(
            await client.get(f"{PRODUCTS}/by-sku/OLD-1", headers=headers), 404, "product_not_found"
        )
    for headers in (team.staff.headers, team.admin.headers, team.root.headers):
        by_id = await client.get(f"{PRODUCTS}/{product_id}", headers=headers)
        assert by_id.status_code == 200, by_id.text
        assert by_id.json()["status"] == "archived"
        by_sku = await client.get(f"{PRODUCTS}/by-sku/old-1", headers=headers)
        assert by_sku.status_code == 200, by_sku.text
    # The 404 for anonymous callers is not cached past staff reads, nor the reverse.
    assert (await client.get(f"{PRODUCTS}/{product_id}")).status_code == 404


async def test_an_invalid_token_never_reveals_an_archived_product(
    client: httpx.AsyncClient, team: Staffing
) -> None:
    archived_id = await _archived_product(client, team)
    active_id = await create_product(client, team.staff.headers, sku="NEW-1", name="New")
    forged = {"Authorization": "Bearer forged"}
    assert_unauthorized(
        await client.get(f"{PRODUCTS}/{archived_id}", headers=forged), "not_authenticated"
    )
    # Active products need no credentials, so bad ones are not even looked at.
    assert (await client.get(f"{PRODUCTS}/{active_id}", headers=forged)).status_code == 200


# --- listing: filters -------------------------------------------------------------------------


async def _catalog(client: httpx.AsyncClient, team: Staffing) -> dict[str, str]:
    rows: list[tuple[str, str, str, str, int]] = [
        ("MUG-001", "Stoneware mug", "12.50", "EUR", 5),
        ("MUG-002", "Enamel mug", "8.00", "EUR", 0),
        ("TEA-100", "Green tea 100% organic", "4.20", "EUR", 30),
        ("POT-7", "Tea pot", "35.00", "USD", 2),
        ("CUP-JP", "Yunomi cup", "1500", "JPY", 1),
    ]
    ids = {}
    for sku, name, price, currency, stock in rows:
        ids[sku] = await create_product(
            client,
            team.staff.headers,
            sku=sku,
            name=name,
            price_amount=price,
            currency=currency,
            stock_on_hand=stock,
        )
    return ids


def _skus(items: list[dict[str, Any]]) -> list[str]:
    return [item["sku"] for item in items]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ["TEA-100", "MUG-002", "MUG-001", "POT-7", "CUP-JP"]),
        ({"q": "mug"}, ["MUG-002", "MUG-001"]),
        ({"q": "MUG"}, ["MUG-002", "MUG-001"]),
        ({"q": "tea-1"}, ["TEA-100"]),  # SKU search
        ({"q": "tea"}, ["TEA-100", "POT-7"]),
        ({"q": "100%"}, ["TEA-100"]),  # % is literal
        ({"q": "%"}, ["TEA-100"]),
        ({"q": "_"}, []),  # _ is literal, no name or SKU has one
        ({"q": "zzz"}, []),
        ({"currency": "EUR"}, ["TEA-100", "MUG-002", "MUG-001"]),
        ({"currency": "usd"}, ["POT-7"]),
        ({"min_price": "8"}, ["MUG-002", "MUG-001", "POT-7", "CUP-JP"]),
        ({"max_price": "8.00"}, ["TEA-100", "MUG-002"]),
        ({"min_price": "8", "max_price": "12.5"}, ["MUG-002", "MUG-001"]),
        ({"min_price": "8", "max_price": "12.5", "currency": "EUR"}, ["MUG-002", "MUG-001"]),
        ({"in_stock": "true"}, ["TEA-100", "MUG-001", "POT-7", "CUP-JP"]),
        ({"in_stock": "false"}, ["MUG-002"]),
        ({"q": "mug", "in_stock": "true"}, ["MUG-001"]),
    ],
)
async def test_filters(
    client: httpx.AsyncClient, team: Staffing, params: dict[str, str], expected: list[str]
) -> None:
    await _catalog(client, team)
    response = await client.get(PRODUCTS, params={**params, "sort": "price"})
    assert response.status_code == 200, response.text
    page = response.json()
    assert _skus(page["items"]) == expected
    assert page["next_cursor"] is None
    for item in page["items"]:
        assert isinstance(item["price_amount"], str)


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("name", ["MUG-002", "TEA-100", "MUG-001", "POT-7", "CUP-JP"]),
        ("-name", ["CUP-JP", "POT-7", "MUG-001", "TEA-100", "MUG-002"]),
        ("price", ["TEA-100", "MUG-002", "MUG-001", "POT-7", "CUP-JP"]),
        ("-price", ["CUP-JP", "POT-7", "MUG-001", "MUG-002", "TEA-100"]),
        ("oldest", ["MUG-001", "MUG-002", "TEA-100", "POT-7", "CUP-JP"]),
        ("newest", ["CUP-JP", "POT-7", "TEA-100", "MUG-002", "MUG-001"]),
    ],
)
async def test_sorts(
    client: httpx.AsyncClient, team: Staffing, sort: str, expected: list[str]
) -> None:
    await _catalog(client, team)
    response = await client.get(PRODUCTS, params={"sort": sort})
    assert response.status_code == 200, response.text
    assert _skus(response.json()["items"]) == expected
    # The same order one item at a time.
    assert _skus(await list_all(client, {"sort": sort, "limit": 1})) == expected


async def test_the_default_listing_is_active_products_by_name(
    client: httpx.AsyncClient, team: Staffing
) -> None:
    await _catalog(client, team)
    await _archived_product(client, team)
    page = (await client.get(PRODUCTS)).json()
    assert _skus(page["items"]) == ["MUG-002", "TEA-100", "MUG-001", "POT-7", "CUP-JP"]
    assert all(item["status"] == "active" for item in page["items"])


# --- listing: statuses ------------------------------------------------------------------------


@pytest.mark.parametrize("params", [{"status": "archived"}, {"all_statuses": "true"}])
async def test_other_statuses_are_for_staff_only(
    client: httpx.AsyncClient, team: Staffing, params: dict[str, str]
) -> None:
    await create_product(client, team.staff.headers, sku="LIVE-1", name="Live")
    await _archived_product(client, team)
    assert_unauthorized(await client.get(PRODUCTS, params=params), "not_authenticated")
    assert_problem(
        await client.get(PRODUCTS, params=params, headers=team.customer.headers), 403, "forbidden"
    )
    response = await client.get(PRODUCTS, params=params, headers=team.staff.headers)
    assert response.status_code == 200, response.text
    expected = ["OLD-1"] if "status" in params else ["LIVE-1", "OLD-1"]
    assert _skus(response.json()["items"]) == expected


async def test_status_active_is_public(client: httpx.AsyncClient, team: Staffing) -> None:
    await create_product(client, team.staff.headers, sku="LIVE-1", name="Live")
    await _archived_product(client, team)
    response = await client.get(PRODUCTS, params={"status": "active"})
    assert response.status_code == 200
    assert _skus(response.json()["items"]) == ["LIVE-1"]
    assert_problem(await client.get(PRODUCTS, params={"status": "gone"}), 422, "validation_error")


# --- listing: pagination ----------------------------------------------------------------------


async def _many(client: httpx.AsyncClient, team: Staffing, count: int) -> set[str]:
    """Products with repeated names and prices, so the id tie-breaker matters."""
    ids = set()
    for index in range(count):
        ids.add(
            await create_product(
                client,
                team.staff.headers,
                sku=f"ITEM-{index:03d}",
                name=f"Item {index % 4}",
                price_amount=f"{1 + index % 3}.00",
                stock_on_hand=index % 2,
            )
        )
    return ids


@pytest.mark.parametrize("sort", ["name", "-name", "price", "-price", "newest", "oldest"])
async def test_keyset_pagination_visits_every_product_once(
    client: httpx.AsyncClient, team: Staffing, sort: str
) -> None:
    ids = await _many(client, team, 23)
    everything = (await client.get(PRODUCTS, params={"sort": sort, "limit": 100})).json()
    assert everything["next_cursor"] is None
    for limit in (1, 4, 7, 23):
        items = await list_all(client, {"sort": sort, "limit": limit})
        seen = [item["id"] for item in items]
        assert len(seen) == len(set(seen)) == 23, (sort, limit)
        assert set(seen) == ids
        assert seen == [item["id"] for item in everything["items"]]  # same order as one page
    first = (await client.get(PRODUCTS, params={"sort": sort, "limit": 7})).json()
    assert len(first["items"]) == 7
    assert first["next_cursor"]


async def test_pagination_with_filters_and_a_full_last_page(
    client: httpx.AsyncClient, team: Staffing
) -> None:
    await _many(client, team, 24)
    items = await list_all(client, {"sort": "price", "limit": 4, "in_stock": "true"})
    assert len(items) == 12
    assert all(item["in_stock"] for item in items)
    prices = [Decimal(item["price_amount"]) for item in items]
    assert prices == sorted(prices)
    # A page that ends exactly at the last product has no next cursor.
    exact = (await client.get(PRODUCTS, params={"limit": 24})).json()
    assert len(exact["items"]) == 24
    assert exact["next_cursor"] is None


async def test_the_default_page_size_is_20(client: httpx.AsyncClient, team: Staffing) -> None:
    await _many(client, team, 21)
    page = (await client.get(PRODUCTS)).json()
    assert len(page["items"]) == 20
    assert page["next_cursor"]


@pytest.mark.parametrize("limit", ["0", "-1", "101", "many"])
async def test_limit_bounds_are_422(client: httpx.AsyncClient, limit: str) -> None:
    assert_problem(await client.get(PRODUCTS, params={"limit": limit}), 422, "validation_error")


async def test_limit_bounds_themselves_are_accepted(client: httpx.AsyncClient) -> None:
    for limit in ("1", "100"):
        assert (await client.get(PRODUCTS, params={"limit": limit})).status_code == 200


def _forged(payload: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


@pytest.mark.owasp("API8")
@pytest.mark.parametrize(
    ("sort", "cursor"),
    [
        ("name", "not-a-cursor"),
        ("name", "!!!"),
        ("name", _forged(["name", "x"])),
        ("name", _forged(["price", "1.00", str(uuid.UUID(int=1))])),  # another sort's cursor
        ("name", _forged(["name", "x", "not-a-uuid"])),
        ("name", _forged(["name", 5, str(uuid.UUID(int=1))])),
        ("name", _forged(["name", "a\x00b", str(uuid.UUID(int=1))])),
        ("name", _forged({"sort": "name"})),
        ("price", _forged(["price", "abc", str(uuid.UUID(int=1))])),
        ("price", _forged(["price", "NaN", str(uuid.UUID(int=1))])),
        ("price", _forged(["price", "1e400", str(uuid.UUID(int=1))])),
        # Security review, finding 8: both reached PostgreSQL (or its driver) and gave 500.
        ("price", _forged(["price", "1e-20000", str(uuid.UUID(int=1))])),
        ("price", _forged(["price", "0.0000001", str(uuid.UUID(int=1))])),
        ("name", _forged(["name", "\ud800", str(uuid.UUID(int=1))])),  # a lone surrogate
        ("-name", _forged(["-name", "a\udfffb", str(uuid.UUID(int=1))])),
        ("newest", _forged(["newest", "yesterday", str(uuid.UUID(int=1))])),
        ("newest", _forged(["newest", "2024-01-01T00:00:00", str(uuid.UUID(int=1))])),  # naive
    ],
)
async def test_an_invalid_cursor_is_422(client: httpx.AsyncClient, sort: str, cursor: str) -> None:
    response = await client.get(PRODUCTS, params={"sort": sort, "cursor": cursor})
    assert_problem(response, 422, "invalid_cursor")


async def test_a_cursor_from_another_sort_is_422(client: httpx.AsyncClient, team: Staffing) -> None:
    await _many(client, team, 3)
    cursor = (await client.get(PRODUCTS, params={"sort": "price", "limit": 1})).json()[
        "next_cursor"
    ]
    assert cursor
    assert_problem(
        await client.get(PRODUCTS, params={"sort": "name", "cursor": cursor}), 422, "invalid_cursor"
    )
    assert_problem(
        await client.get(PRODUCTS, params={"cursor": "x" * 513}), 422, "validation_error"
    )


# --- listing: bad parameters ------------------------------------------------------------------


async def test_min_price_above_max_price_is_422(client: httpx.AsyncClient) -> None:
    response = await client.get(PRODUCTS, params={"min_price": "10", "max_price": "9.99"})
    assert_problem(response, 422, "invalid_price_range")
    equal = await client.get(PRODUCTS, params={"min_price": "10", "max_price": "10"})
    assert equal.status_code == 200


@pytest.mark.parametrize(
    "params",
    [
        {"min_price": "-1"},
        {"max_price": "abc"},
        {"min_price": "1e11"},
        {"currency": "EU"},
        {"currency": "EURO"},
        {"currency": "QJ\x00"},  # found by make test's schemathesis run: a 500 from PostgreSQL
        {"currency": "E1R"},
        {"in_stock": "maybe"},
        {"sort": "random"},
        {"q": "x" * 101},
        {"q": "nul\x00"},
    ],
)
async def test_invalid_listing_parameters_are_422(
    client: httpx.AsyncClient, params: dict[str, str]
) -> None:
    assert_problem(await client.get(PRODUCTS, params=params), 422, "validation_error")
