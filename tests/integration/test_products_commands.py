"""Catalog writes over HTTP: who may change products, and every status each route answers."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.integration.catalog_support import (
    PRODUCTS,
    create_product,
    get_product,
    product_body,
)
from tests.integration.support import Staffing, assert_problem, assert_unauthorized

# --- create -----------------------------------------------------------------------------------


async def test_staff_create_a_product_201_with_location(
    client: httpx.AsyncClient, team: Staffing
) -> None:
    response = await client.post(
        PRODUCTS,
        json=product_body(sku=" mug-001 ", price_amount="12.5"),
        headers=team.staff.headers,
    )
    assert response.status_code == 201, response.text
    product_id = response.json()["id"]
    assert uuid.UUID(product_id)
    assert response.headers["location"] == f"{PRODUCTS}/{product_id}"
    product = (await client.get(response.headers["location"])).json()
    assert product["id"] == product_id
    assert product["sku"] == "MUG-001"
    assert product["name"] == "Stoneware mug"
    assert product["description"] == "Holds tea."
    assert product["price_amount"] == "12.50"
    assert isinstance(product["price_amount"], str)
    assert product["currency"] == "EUR"
    assert product["stock_on_hand"] == 5
    assert product["in_stock"] is True
    assert product["status"] == "active"
    assert product["version"] == 1
    assert product["created_at"] == product["updated_at"]


async def test_admins_may_create_products_too(client: httpx.AsyncClient, team: Staffing) -> None:
    for actor, sku in ((team.admin, "ADM-1"), (team.root, "ROOT-1")):
        response = await client.post(PRODUCTS, json=product_body(sku=sku), headers=actor.headers)
        assert response.status_code == 201, response.text


async def test_description_and_stock_default(client: httpx.AsyncClient, team: Staffing) -> None:
    body = product_body()
    del body["description"], body["stock_on_hand"]
    response = await client.post(PRODUCTS, json=body, headers=team.staff.headers)
    assert response.status_code == 201, response.text
    product = await get_product(client, response.json()["id"])
    assert product["description"] == ""
    assert product["stock_on_hand"] == 0
    assert product["in_stock"] is False


async def test_anonymous_create_is_401(client: httpx.AsyncClient) -> None:
    response = await client.post(PRODUCTS, json=product_body())
    assert_unauthorized(response, "not_authenticated")


async def test_customer_create_is_403(client: httpx.AsyncClient, team: Staffing) -> None:
    response = await client.post(PRODUCTS, json=product_body(), headers=team.customer.headers)
    assert_problem(response, 403, "forbidden")
    assert (await client.get(f"{PRODUCTS}/by-sku/MUG-001")).status_code == 404


@pytest.mark.parametrize("again", ["MUG-001", "mug-001", "  Mug-001  "])
async def test_a_taken_sku_is_409_regardless_of_case(
    client: httpx.AsyncClient, team: Staffing, again: str
) -> None:
    await create_product(client, team.staff.headers, sku="mug-001")
    response = await client.post(
        PRODUCTS, json=product_body(sku=again, name="Other"), headers=team.staff.headers
    )
    assert_problem(response, 409, "sku_taken")
    listed = (await client.get(PRODUCTS)).json()["items"]
    assert [item["name"] for item in listed] == ["Stoneware mug"]


# The rule is the domain's, stated in the OpenAPI as a pattern: every SKU the pattern refuses is
# invalid_sku, empty and long ones too (app/shared/presentation/http/fields.py).
@pytest.mark.parametrize(
    "sku", ["ab", "-mug", "mug--1", "mug 1", "mug_1", "x" * 33, "müg-1", "", "x" * 65, "\u00df-1"]
)
async def test_an_invalid_sku_is_422(client: httpx.AsyncClient, team: Staffing, sku: str) -> None:
    response = await client.post(PRODUCTS, json=product_body(sku=sku), headers=team.staff.headers)
    assert_problem(response, 422, "invalid_sku")


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"price_amount": "0"}, "invalid_money"),
        ({"price_amount": "0.00"}, "invalid_money"),
        ({"price_amount": "10.5", "currency": "JPY"}, "invalid_money"),
        ({"currency": "XXX"}, "invalid_money"),
        ({"currency": "BTC"}, "invalid_money"),
        ({"price_amount": "12.345"}, "validation_error"),
        ({"price_amount": "-1"}, "validation_error"),
        ({"price_amount": "1e3"}, "validation_error"),
        ({"price_amount": "NaN"}, "validation_error"),
        ({"price_amount": "12,50"}, "validation_error"),
        ({"price_amount": "12345678901"}, "validation_error"),
        ({"price_amount": 12.5}, "validation_error"),  # a JSON number: money is a string
        ({"price_amount": 12}, "validation_error"),
        ({"currency": "EU"}, "invalid_money"),
        ({"currency": "EURO"}, "invalid_money"),
        ({"currency": "\u017fek"}, "invalid_money"),  # folds to SEK: only ASCII is folded
        ({"name": "   "}, "invalid_product_name"),
        ({"name": ""}, "invalid_product_name"),
        ({"name": "Mug\x07"}, "invalid_product_name"),
        ({"name": "x" * 201}, "validation_error"),  # the schema's maxLength, on the raw text
        ({"stock_on_hand": -1}, "validation_error"),
        ({"stock_on_hand": 1_000_001}, "validation_error"),
    ],
)
async def test_invalid_product_data_is_422(
    client: httpx.AsyncClient, team: Staffing, overrides: dict[str, Any], code: str
) -> None:
    response = await client.post(
        PRODUCTS, json=product_body(**overrides), headers=team.staff.headers
    )
    assert_problem(response, 422, code)
    assert (
        await client.get(PRODUCTS, params={"all_statuses": "true"}, headers=team.staff.headers)
    ).json()["items"] == []


async def test_currency_is_case_insensitive(client: httpx.AsyncClient, team: Staffing) -> None:
    product_id = await create_product(client, team.staff.headers, currency="usd")
    assert (await get_product(client, product_id))["currency"] == "USD"


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [
        ("10.5", "EUR", "10.50"),
        ("10", "USD", "10.00"),
        ("0.01", "GBP", "0.01"),
        ("9999999999.99", "EUR", "9999999999.99"),
        ("1500", "JPY", "1500"),
        ("1500.00", "JPY", "1500"),
    ],
)
async def test_prices_are_strings_at_the_currency_scale(
    client: httpx.AsyncClient, team: Staffing, amount: str, currency: str, shown: str
) -> None:
    product_id = await create_product(
        client, team.staff.headers, price_amount=amount, currency=currency
    )
    product = await get_product(client, product_id)
    assert product["price_amount"] == shown
    listed = (await client.get(PRODUCTS)).json()["items"][0]
    assert listed["price_amount"] == shown
    by_sku = (await client.get(f"{PRODUCTS}/by-sku/MUG-001")).json()
    assert by_sku["price_amount"] == shown


# --- edit details -----------------------------------------------------------------------------


async def test_staff_edit_details_204(client: httpx.AsyncClient, team: Staffing) -> None:
    product_id = await create_product(client, team.staff.headers)
    response = await client.patch(
        f"{PRODUCTS}/{product_id}",
        json={"name": "  Big   mug ", "description": " Holds more tea. "},
        headers=team.staff.headers,
    )
    assert response.status_code == 204, response.text
    assert response.content == b""
    product = await get_product(client, product_id)
    assert product["name"] == "Big mug"
    assert product["description"] == "Holds more tea."
    assert product["sku"] == "MUG-001"
    assert product["version"] == 2
    assert product["updated_at"] > product["created_at"]


async def test_edit_details_errors(client: httpx.AsyncClient, team: Staffing) -> None:
    product_id = await create_product(client, team.staff.headers)
    url = f"{PRODUCTS}/{product_id}"
    body = {"name": "New", "description": ""}
    assert_unauthorized(await client.patch(url, json=body), "not_authenticated")
    assert_problem(
        await client.patch(url, json=body, headers=team.customer.headers), 403, "forbidden"
    )
    assert_problem(
        await client.patch(f"{PRODUCTS}/{uuid.uuid4()}", json=body, headers=team.staff.headers),
        404,
        "product_not_found",
    )
    assert_problem(
        await client.patch(url, json={"name": " \t "}, headers=team.staff.headers),
        422,
        "invalid_product_name",
    )
    assert_problem(
        await client.patch(url, json={"name": "x" * 201}, headers=team.staff.headers),
        422,
        "validation_error",  # the schema's maxLength, on the raw text
    )
    assert_problem(
        await client.patch(
            url, json={"name": "ok", "description": "nul\x00"}, headers=team.staff.headers
        ),
        422,
        "invalid_description",
    )
    assert_problem(
        await client.patch(f"{PRODUCTS}/not-a-uuid", json=body, headers=team.staff.headers),
        422,
        "validation_error",
    )
    assert (await get_product(client, product_id))["name"] == "Stoneware mug"


# --- price ------------------------------------------------------------------------------------


async def test_staff_change_the_price_204(client: httpx.AsyncClient, team: Staffing) -> None:
    product_id = await create_product(client, team.staff.headers)
    response = await client.put(
        f"{PRODUCTS}/{product_id}/price",
        json={"amount": "9.9", "currency": "eur"},
        headers=team.staff.headers,
    )
    assert response.status_code == 204, response.text
    product = await get_product(client, product_id)
    assert (product["price_amount"], product["currency"]) == ("9.90", "EUR")


async def test_change_price_errors(client: httpx.AsyncClient, team: Staffing) -> None:
    product_id = await create_product(client, team.staff.headers)
    url = f"{PRODUCTS}/{product_id}/price"
    good = {"amount": "1.00", "currency": "EUR"}
    assert_unauthorized(await client.put(url, json=good), "not_authenticated")
    assert_problem(
        await client.put(url, json=good, headers=team.customer.headers), 403, "forbidden"
    )
    assert_problem(
        await client.put(f"{PRODUCTS}/{uuid.uuid4()}/price", json=good, headers=team.staff.headers),
        404,
        "product_not_found",
    )
    for body, code in (
        ({"amount": "0", "currency": "EUR"}, "invalid_money"),
        ({"amount": "1.5", "currency": "JPY"}, "invalid_money"),
        ({"amount": "1.00", "currency": "ZZZ"}, "invalid_money"),
        ({"amount": 1.5, "currency": "EUR"}, "validation_error"),
        ({"amount": "1.005", "currency": "EUR"}, "validation_error"),
        ({"amount": "-1", "currency": "EUR"}, "validation_error"),
    ):
        assert_problem(await client.put(url, json=body, headers=team.staff.headers), 422, code)
    assert (await get_product(client, product_id))["price_amount"] == "12.50"


# --- stock ------------------------------------------------------------------------------------


async def test_restock_returns_the_new_level(client: httpx.AsyncClient, team: Staffing) -> None:
    product_id = await create_product(client, team.staff.headers, stock_on_hand=0)
    response = await client.post(
        f"{PRODUCTS}/{product_id}/stock/restock",
        json={"quantity": 7, "reason": "Delivery 2024-117"},
        headers=team.staff.headers,
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"stock_on_hand": 7}
    product = await get_product(client, product_id)
    assert (product["stock_on_hand"], product["in_stock"]) == (7, True)


async def test_restock_errors(client: httpx.AsyncClient, team: Staffing) -> None:
    product_id = await create_product(client, team.staff.headers, stock_on_hand=1)
    url = f"{PRODUCTS}/{product_id}/stock/restock"
    good = {"quantity": 1, "reason": "Delivery"}
    assert_unauthorized(await client.post(url, json=good), "not_authenticated")
    assert_problem(
        await client.post(url, json=good, headers=team.customer.headers), 403, "forbidden"
    )
    assert_problem(
        await client.post(
            f"{PRODUCTS}/{uuid.uuid4()}/stock/restock", json=good, headers=team.staff.headers
        ),
        404,
        "product_not_found",
    )
    for body, code in (
        ({"quantity": 0, "reason": "Delivery"}, "validation_error"),
        ({"quantity": -3, "reason": "Delivery"}, "validation_error"),
        ({"quantity": 1_000_001, "reason": "Delivery"}, "validation_error"),
        ({"quantity": 1, "reason": ""}, "invalid_stock_change"),
        ({"quantity": 1, "reason": "x" * 201}, "validation_error"),
        ({"quantity": 1, "reason": "ab"}, "invalid_stock_change"),
    ):
        assert_problem(await client.post(url, json=body, headers=team.staff.headers), 422, code)
    # Valid input that the current stock cannot take: a conflict, as going below zero is.
    too_much = {"quantity": 1_000_000, "reason": "Too much"}
    refused = await client.post(url, json=too_much, headers=team.staff.headers)
    assert_problem(refused, 409, "stock_limit_exceeded")
    assert refused.json()["stock_on_hand"] == 1
    assert (await get_product(client, product_id))["stock_on_hand"] == 1


async def test_adjust_stock_either_way(client: httpx.AsyncClient, team: Staffing) -> None:
    product_id = await create_product(client, team.staff.headers, stock_on_hand=5)
    url = f"{PRODUCTS}/{product_id}/stock/adjustments"
    down = await client.post(
        url, json={"delta": -5, "reason": "Stock count"}, headers=team.staff.headers
    )
    assert down.status_code == 200, down.text
    assert down.json() == {"stock_on_hand": 0}
    product = await get_product(client, product_id)
    assert (product["stock_on_hand"], product["in_stock"]) == (0, False)
    up = await client.post(
        url, json={"delta": 2, "reason": "Found two"}, headers=team.staff.headers
    )
    assert up.json() == {"stock_on_hand": 2}


async def test_adjusting_below_zero_is_409_and_changes_nothing(
    client: httpx.AsyncClient, team: Staffing
) -> None:
    product_id = await create_product(client, team.staff.headers, stock_on_hand=2)
    response = await client.post(
        f"{PRODUCTS}/{product_id}/stock/adjustments",
        json={"delta": -3, "reason": "Damaged"},
        headers=team.staff.headers,
    )
    body = assert_problem(response, 409, "insufficient_stock")
    assert body["stock_on_hand"] == 2
    product = await get_product(client, product_id)
    assert (product["stock_on_hand"], product["version"]) == (2, 1)


async def test_adjust_errors(client: httpx.AsyncClient, team: Staffing) -> None:
    product_id = await create_product(client, team.staff.headers, stock_on_hand=2)
    url = f"{PRODUCTS}/{product_id}/stock/adjustments"
    good = {"delta": -1, "reason": "Damaged"}
    assert_unauthorized(await client.post(url, json=good), "not_authenticated")
    assert_problem(
        await client.post(url, json=good, headers=team.customer.headers), 403, "forbidden"
    )
    assert_problem(
        await client.post(
            f"{PRODUCTS}/{uuid.uuid4()}/stock/adjustments", json=good, headers=team.staff.headers
        ),
        404,
        "product_not_found",
    )
    for body, code in (
        ({"delta": 0, "reason": "Nothing"}, "invalid_stock_change"),
        ({"delta": -1, "reason": "ab"}, "invalid_stock_change"),
        ({"delta": -1_000_001, "reason": "Damaged"}, "validation_error"),
        ({"delta": "many", "reason": "Damaged"}, "validation_error"),
    ):
        assert_problem(await client.post(url, json=body, headers=team.staff.headers), 422, code)
    assert (await get_product(client, product_id))["stock_on_hand"] == 2


# --- archive / reactivate ---------------------------------------------------------------------


async def test_archive_and_reactivate_with_409_on_repeat(
    client: httpx.AsyncClient, team: Staffing
) -> None:
    product_id = await create_product(client, team.staff.headers)
    staff = team.staff.headers
    archived = await client.post(f"{PRODUCTS}/{product_id}/archive", headers=staff)
    assert archived.status_code == 204, archived.text
    again = await client.post(f"{PRODUCTS}/{product_id}/archive", headers=staff)
    assert assert_problem(again, 409, "invalid_product_transition")["current_status"] == "archived"
    assert (await get_product(client, product_id, staff))["status"] == "archived"
    reactivated = await client.post(f"{PRODUCTS}/{product_id}/reactivate", headers=staff)
    assert reactivated.status_code == 204, reactivated.text
    again = await client.post(f"{PRODUCTS}/{product_id}/reactivate", headers=staff)
    assert assert_problem(again, 409, "invalid_product_transition")["current_status"] == "active"
    product = await get_product(client, product_id)
    assert (product["status"], product["version"]) == ("active", 3)


@pytest.mark.parametrize("action", ["archive", "reactivate"])
async def test_archive_and_reactivate_errors(
    client: httpx.AsyncClient, team: Staffing, action: str
) -> None:
    product_id = await create_product(client, team.staff.headers)
    url = f"{PRODUCTS}/{product_id}/{action}"
    assert_unauthorized(await client.post(url), "not_authenticated")
    assert_problem(await client.post(url, headers=team.customer.headers), 403, "forbidden")
    assert_problem(
        await client.post(f"{PRODUCTS}/{uuid.uuid4()}/{action}", headers=team.staff.headers),
        404,
        "product_not_found",
    )


async def test_an_invalid_token_is_401_on_every_write(
    client: httpx.AsyncClient, team: Staffing
) -> None:
    product_id = await create_product(client, team.staff.headers)
    bad = {"Authorization": "Bearer not-a-token"}
    for method, url, body in (
        ("POST", PRODUCTS, product_body(sku="NEW-1")),
        ("PATCH", f"{PRODUCTS}/{product_id}", {"name": "x"}),
        ("PUT", f"{PRODUCTS}/{product_id}/price", {"amount": "1", "currency": "EUR"}),
        ("POST", f"{PRODUCTS}/{product_id}/stock/restock", {"quantity": 1, "reason": "abc"}),
        ("POST", f"{PRODUCTS}/{product_id}/stock/adjustments", {"delta": 1, "reason": "abc"}),
        ("POST", f"{PRODUCTS}/{product_id}/archive", None),
        ("POST", f"{PRODUCTS}/{product_id}/reactivate", None),
    ):
        response = await client.request(method, url, json=body, headers=bad)
        assert response.status_code == 401, (method, url, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
