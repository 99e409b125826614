"""OWASP API3:2023 Broken Object Property Level Authorization: a body cannot set a property its
caller may not set (mass assignment: a role, a status, an owner, a price, a stock level, a
version), and no answer carries a property its caller may not read (a password hash, a
credentials version, a refresh digest, anything the OpenAPI does not document).

Also proving it: test_password_hash_never_leaks.py (no response of a full flow holds a hash),
test_sessions.py (the session holds only the refresh token's digest), the 422 handler's
tests (a validation error never echoes the input: test_sign_up.py, tests/unit/test_problems.py),
test_sql_errors_hide_values.py (no SQL values in logs), test_owasp_api8_security_misconfiguration
(no traceback in any error body).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.integration.helpers import PASSWORD, bearer, log_in
from tests.integration.owasp_support import World, open_world
from tests.integration.support import assert_problem
from tests.support.sql import sql_value

pytestmark = pytest.mark.owasp("API3")

# Names no answer may carry, whatever the route.
SECRET_NAMES = ("password", "hash", "credentials_version", "secret", "digest", "kwargs")


@pytest.fixture
async def world(client: httpx.AsyncClient, database_url: str) -> World:
    return await open_world(client, database_url)


async def test_sign_up_ignores_a_role_a_status_and_an_id_in_its_body(
    client: httpx.AsyncClient, database_url: str
) -> None:
    response = await client.post(
        "/api/v1/users",
        json={
            "username": "mallory",
            "email": "mallory@example.com",
            "password": PASSWORD,
            "role": "super_admin",
            "status": "active",
            "id": "00000000-0000-0000-0000-000000000001",
            "credentials_version": 99,
            "password_hash": "$argon2id$v=19$forged",
        },
    )
    assert response.status_code == 201, response.text
    assert response.json()["id"] != "00000000-0000-0000-0000-000000000001"
    profile = (
        await client.get("/api/v1/users/me", headers=bearer(await log_in(client, "mallory")))
    ).json()
    assert profile["role"] == "customer"
    row = "SELECT role || ':' || credentials_version FROM users WHERE username = 'mallory'"
    assert await sql_value(database_url, row) == "customer:1"
    assert "forged" not in await sql_value(
        database_url, "SELECT password_hash FROM users WHERE username = 'mallory'"
    )


async def test_an_order_takes_its_owner_status_and_prices_from_the_server(
    client: httpx.AsyncClient, world: World
) -> None:
    carl = world.team.customer
    response = await client.post(
        "/api/v1/orders",
        json={
            "customer_id": world.cora.id,
            "status": "paid",
            "total_amount": "0.01",
            "currency": "JPY",
            "payment_reference": "free",
            "lines": [
                {
                    "product_id": world.product_id,
                    "quantity": 2,
                    "unit_price": "0.01",
                    "line_total": "0.02",
                    "name": "Free mug",
                }
            ],
        },
        headers=carl.headers,
    )
    assert response.status_code == 201, response.text
    order = response.json()
    assert order["customer_id"] == carl.id
    assert order["status"] == "pending_payment"
    assert (order["total_amount"], order["currency"]) == ("20.00", "EUR")
    assert order["payment_reference"] is None
    assert order["lines"][0]["unit_price"] == "10.00"
    assert order["lines"][0]["name"] != "Free mug"


async def test_staff_edits_change_only_the_properties_of_their_route(
    client: httpx.AsyncClient, world: World
) -> None:
    staff = world.team.staff.headers
    url = f"/api/v1/products/{world.product_id}"
    before = (await client.get(url)).json()
    edited = await client.patch(
        url,
        json={
            "name": "Renamed mug",
            "price_amount": "0.01",
            "stock_on_hand": 100000,
            "status": "archived",
            "version": 1,
            "sku": "STOLEN-1",
        },
        headers=staff,
    )
    assert edited.status_code == 204, edited.text
    after = (await client.get(url)).json()
    assert after["name"] == "Renamed mug"
    for name in ("price_amount", "currency", "stock_on_hand", "status", "sku"):
        assert after[name] == before[name], name
    # A cancellation's body cannot pick the order's next state or its refund.
    cancelled = await client.post(
        f"/api/v1/orders/{world.carls_order['id']}/cancel",
        json={"reason": "changed my mind", "status": "refunded", "refund": "999.00"},
        headers=world.team.customer.headers,
    )
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"


async def test_a_role_can_only_be_granted_through_its_route_and_rules(
    client: httpx.AsyncClient, world: World
) -> None:
    carl = world.team.customer
    # No route takes a role in a body; the role route refuses anyone below admin.
    for response in (
        await client.put("/api/v1/users/me/password", json={"role": "admin"}, headers=carl.headers),
        await client.put(f"/api/v1/users/{carl.id}/roles/admin", headers=carl.headers),
    ):
        assert response.status_code in {403, 422}, response.text
    assert_problem(
        await client.put(f"/api/v1/users/{carl.id}/roles/staff", headers=carl.headers),
        403,
        "forbidden",
    )
    me = (await client.get("/api/v1/users/me", headers=carl.headers)).json()
    assert me["role"] == "customer"


def _properties(openapi: dict[str, Any], schema: dict[str, Any]) -> set[str]:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        schema = openapi["components"]["schemas"][name]
    names = set(schema.get("properties", {}))
    for sub in schema.get("anyOf", []) + schema.get("allOf", []):
        names |= _properties(openapi, sub)
    return names


async def test_no_response_schema_has_a_secret_property(client: httpx.AsyncClient) -> None:
    openapi = (await client.get("/openapi.json")).json()
    seen: list[str] = []
    for path, item in openapi["paths"].items():
        for method, operation in item.items():
            for status, answer in operation.get("responses", {}).items():
                for media in answer.get("content", {}).values():
                    for name in _properties(openapi, media.get("schema", {})):
                        seen.append(name)
                        assert not any(word in name for word in SECRET_NAMES), (
                            method,
                            path,
                            status,
                            name,
                        )
    assert {"id", "role", "email", "access_token"} <= set(seen)


async def test_answers_carry_exactly_the_documented_properties(
    client: httpx.AsyncClient, world: World
) -> None:
    """What a response model would drop is never added by hand: each answer's keys are its
    schema's (an internal field added to a result would show up here first)."""
    openapi = (await client.get("/openapi.json")).json()
    admin = world.team.admin.headers
    carl = world.team.customer.headers
    checks = [
        ("/api/v1/users/me", "get", carl, None),
        (f"/api/v1/users/{world.cora.id}", "get", admin, None),
        (f"/api/v1/orders/{world.carls_order['id']}", "get", carl, None),
        (f"/api/v1/products/{world.product_id}", "get", {}, None),
        ("/api/v1/users", "get", admin, "items"),
        ("/api/v1/orders", "get", carl, "items"),
        ("/api/v1/admin/dead-letters", "get", admin, "items"),
    ]
    for url, method, headers, items in checks:
        response = await client.request(method, url, headers=headers)
        assert response.status_code == 200, response.text
        template = next(
            p
            for p in openapi["paths"]
            if p.count("/") == url.count("/")
            and all(
                a == b or a.startswith("{")
                for a, b in zip(p.split("/"), url.split("/"), strict=True)
            )
        )
        schema = openapi["paths"][template][method]["responses"]["200"]["content"][
            "application/json"
        ]["schema"]
        body = response.json()
        assert set(body) <= _properties(openapi, schema), url
        if items:
            listed = openapi["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]][
                "properties"
            ]["items"]["items"]
            for item in body[items]:
                assert set(item) <= _properties(openapi, listed), url
            assert body[items], url
