"""The transactional outbox: each committed product change writes exactly its events, which the
API's fast path relays right after the commit; a refused change writes none."""

from __future__ import annotations

import json

import httpx

from tests.integration.catalog_support import PRODUCTS, create_product, outbox_events, product_body
from tests.integration.support import Staffing
from tests.support.polling import until
from tests.support.sql import sql_rows, sql_value


async def test_each_committed_change_writes_exactly_its_events(
    client: httpx.AsyncClient, team: Staffing, database_url: str
) -> None:
    staff = team.staff.headers
    assert await outbox_events(database_url) == []
    product_id = await create_product(
        client, staff, sku="mug-001", name="Mug", price_amount="12.5", stock_on_hand=3
    )
    expected: list[tuple[str, dict[str, object]]] = [
        (
            "ProductCreated",
            {
                "sku": "MUG-001",
                "name": "Mug",
                "price_amount": "12.50",
                "currency": "EUR",
                "stock_on_hand": 3,
            },
        )
    ]
    assert await outbox_events(database_url, product_id) == expected

    steps: list[tuple[str, str, dict[str, object] | None, tuple[str, dict[str, object]]]] = [
        (
            "PATCH",
            "",
            {"name": "Big mug", "description": "More."},
            ("ProductDetailsEdited", {"name": "Big mug"}),
        ),
        (
            "PUT",
            "/price",
            {"amount": "9.9", "currency": "EUR"},
            (
                "ProductPriceChanged",
                {"old_amount": "12.50", "new_amount": "9.90", "currency": "EUR"},
            ),
        ),
        (
            "POST",
            "/stock/restock",
            {"quantity": 4, "reason": "Delivery 7"},
            ("ProductStockAdjusted", {"delta": 4, "stock_on_hand": 7, "reason": "Delivery 7"}),
        ),
        (
            "POST",
            "/stock/adjustments",
            {"delta": -7, "reason": "Stock  count"},
            ("ProductStockAdjusted", {"delta": -7, "stock_on_hand": 0, "reason": "Stock count"}),
        ),
        ("POST", "/archive", None, ("ProductArchived", {})),
        ("POST", "/reactivate", None, ("ProductReactivated", {})),
    ]
    for method, suffix, body, event in steps:
        response = await client.request(
            method, f"{PRODUCTS}/{product_id}{suffix}", json=body, headers=staff
        )
        assert response.status_code in {200, 204}, response.text
        expected.append(event)
        assert await outbox_events(database_url, product_id) == expected, (method, suffix)
    assert await outbox_events(database_url) == expected  # nothing for anything else


async def test_outbox_rows_carry_the_aggregate_and_the_request_id(
    client: httpx.AsyncClient, team: Staffing, database_url: str
) -> None:
    response = await client.post(
        PRODUCTS, json=product_body(), headers={**team.staff.headers, "X-Request-ID": "req-123456"}
    )
    assert response.status_code == 201, response.text
    [row] = await sql_rows(
        database_url,
        "SELECT aggregate_type, aggregate_id::text AS aggregate_id, headers::text AS headers, "
        "published_at FROM outbox_events",
    )
    assert row["aggregate_type"] == "product"
    assert row["aggregate_id"] == response.json()["id"]
    assert json.loads(row["headers"])["request_id"] == "req-123456"
    # published_at may already be set: the API relays committed events at once (fast path).


async def test_a_committed_changes_events_are_relayed_at_once_without_a_sweep(
    client: httpx.AsyncClient, team: Staffing, database_url: str
) -> None:
    """The unit of work hands the commit's events to the fast path: no sweep runs in this test
    (no worker, no beat), so only the fast path can mark the row published."""
    product_id = await create_product(client, team.staff.headers)
    published = (
        "SELECT count(*) FROM outbox_events WHERE published_at IS NOT NULL"
        " AND aggregate_id = $1::uuid"
    )

    async def relayed() -> bool:
        return bool(await sql_value(database_url, published, product_id))

    await until(relayed, what="the creation's event relayed by the fast path")


async def test_refused_changes_write_no_events(
    client: httpx.AsyncClient, team: Staffing, database_url: str
) -> None:
    staff = team.staff.headers
    product_id = await create_product(client, staff, stock_on_hand=2)
    before = await outbox_events(database_url)
    assert len(before) == 1
    refusals = [
        ("POST", PRODUCTS, product_body(sku="mug-001", name="Duplicate"), staff, 409),  # sku_taken
        ("POST", PRODUCTS, product_body(sku="NEW-1", price_amount="0"), staff, 422),
        ("POST", PRODUCTS, product_body(sku="NEW-2"), team.customer.headers, 403),
        ("POST", PRODUCTS, product_body(sku="NEW-3"), {}, 401),
        (
            "POST",
            f"{PRODUCTS}/{product_id}/stock/adjustments",
            {"delta": -3, "reason": "Damaged"},
            staff,
            409,  # insufficient_stock
        ),
        (
            "POST",
            f"{PRODUCTS}/{product_id}/stock/adjustments",
            {"delta": 0, "reason": "Nothing"},
            staff,
            422,
        ),
        ("POST", f"{PRODUCTS}/{product_id}/reactivate", None, staff, 409),  # already active
        ("PUT", f"{PRODUCTS}/{product_id}/price", {"amount": "0", "currency": "EUR"}, staff, 422),
        ("PATCH", f"{PRODUCTS}/{product_id}", {"name": "x"}, team.customer.headers, 403),
    ]
    for method, url, body, headers, status in refusals:
        response = await client.request(method, url, json=body, headers=headers)
        assert response.status_code == status, (method, url, response.text)
        assert await outbox_events(database_url) == before, (method, url)
    # Archive twice: one event, not two.
    assert (await client.post(f"{PRODUCTS}/{product_id}/archive", headers=staff)).status_code == 204
    assert (await client.post(f"{PRODUCTS}/{product_id}/archive", headers=staff)).status_code == 409
    assert [event for event, _ in await outbox_events(database_url)] == [
        "ProductCreated",
        "ProductArchived",
    ]


async def test_reads_write_no_events(
    client: httpx.AsyncClient, team: Staffing, database_url: str
) -> None:
    product_id = await create_product(client, team.staff.headers)
    await client.get(f"{PRODUCTS}/{product_id}")
    await client.get(f"{PRODUCTS}/by-sku/MUG-001")
    await client.get(PRODUCTS, params={"all_statuses": "true"}, headers=team.staff.headers)
    assert len(await outbox_events(database_url)) == 1
