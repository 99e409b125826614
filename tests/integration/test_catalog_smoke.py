from __future__ import annotations

import httpx

from tests.integration.helpers import bearer, log_in, sign_up
from tests.support.sql import sql_execute


async def _staff_tokens(client: httpx.AsyncClient, database_url: str) -> dict[str, str]:
    await sign_up(client, "stafffy")
    await sql_execute(database_url, "UPDATE users SET role = 'staff' WHERE username = 'stafffy'")
    return await log_in(client, "stafffy")


async def test_staff_creates_a_product_that_anyone_can_read_fresh_after_each_write(
    client: httpx.AsyncClient, database_url: str
) -> None:
    staff = bearer(await _staff_tokens(client, database_url))
    created = await client.post(
        "/api/v1/products",
        json={"sku": "mug-001", "name": "Mug", "price_amount": "12.50", "currency": "EUR",
              "stock_on_hand": 3},
        headers=staff,
    )  # fmt: skip
    assert created.status_code == 201, created.text
    product_id = created.json()["id"]
    first = await client.get(f"/api/v1/products/{product_id}")
    assert first.json()["price_amount"] == "12.50"
    assert first.json()["sku"] == "MUG-001"
    for price in ("13.00", "14.25", "9.99"):
        changed = await client.put(
            f"/api/v1/products/{product_id}/price",
            json={"amount": price, "currency": "EUR"},
            headers=staff,
        )
        assert changed.status_code == 204
        read = await client.get(f"/api/v1/products/{product_id}")
        assert read.json()["price_amount"] == price
        listed = await client.get("/api/v1/products", params={"q": "mug"})
        assert listed.json()["items"][0]["price_amount"] == price
    by_sku = await client.get("/api/v1/products/by-sku/mug-001")
    assert by_sku.json()["id"] == product_id
