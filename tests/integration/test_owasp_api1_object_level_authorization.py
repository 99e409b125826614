"""OWASP API1:2023 Broken Object Level Authorization: on every route that takes the id of an
order, an export, a user or a dead letter, a caller who may not see that object gets a problem
(404 when the route is theirs to use, 403 when the route is not), never the object; and nothing
changes. The routes come from the app itself, so a new route with an id is checked too.

Also proving it: test_orders_access.py (another customer's order: read, pay and cancel are 404
order_not_found, indistinguishable from a missing order; my orders list only mine),
test_order_exports_api.py (another staff member and a customer get 404 for an export they did
not start), test_orders_idempotency.py (idempotency keys are per customer: a key cannot replay
someone else's answer), test_admin_users.py (admins cannot act on peers or superiors).
"""

from __future__ import annotations

import re

import httpx
import pytest

from app.bootstrap.settings import Settings
from tests.integration.owasp_support import Endpoint, World, app_of, call, endpoints, open_world
from tests.integration.support import assert_problem, user_with_role
from tests.support.sql import sql_value

pytestmark = pytest.mark.owasp("API1")

# The path parameters that name someone's object. Products are the shop's, public by design
# (archived ones are staff-only: test_products_queries.py); a role is not an object.
OBJECT_IDS = frozenset({"order_id", "export_id", "user_id", "dead_letter_id"})
NOT_OBJECTS = frozenset({"product_id", "sku", "role"})


@pytest.fixture
async def world(client: httpx.AsyncClient, database_url: str) -> World:
    return await open_world(client, database_url)


def _object_routes(settings: Settings) -> list[Endpoint]:
    found = []
    for endpoint in endpoints(app_of(settings)):
        names = set(re.findall(r"\{(\w+)\}", endpoint.path))
        assert names <= OBJECT_IDS | NOT_OBJECTS, f"{endpoint}: whose object is {names}?"
        if names & OBJECT_IDS:
            found.append(endpoint)
    return found


async def _state(world: World) -> tuple[object, ...]:
    """Everything the routes above could change about the objects aimed at."""
    url = world.database_url
    return (
        await sql_value(url, "SELECT status FROM orders WHERE id = $1", world.coras_order["id"]),
        await sql_value(
            url, "SELECT status FROM order_exports WHERE id::text = $1", world.export_id
        ),
        await sql_value(url, "SELECT role || status FROM users WHERE id::text = $1", world.cora.id),
        await sql_value(
            url, "SELECT requeued_at FROM dead_letters WHERE id::text = $1", world.dead_letter_id
        ),
        await sql_value(url, "SELECT count(*) FROM orders"),
    )


def _leaks(world: World, response: httpx.Response) -> list[str]:
    """Values of cora's objects that only their owner (or staff) may see (the ids the caller
    sent aside: a problem names its instance)."""
    text = response.text.replace(response.request.url.path, "")
    secrets = [
        str(world.coras_order["customer_id"]),
        str(world.coras_order["total_amount"]),
        world.cora.username,
        f"{world.cora.username}@example.com",
        "notifications.send_order_confirmation",
    ]
    return [value for value in secrets if value in text]


async def test_every_route_with_an_object_id_refuses_a_customer_someone_elses_object(
    client: httpx.AsyncClient, world: World, settings: Settings
) -> None:
    routes = _object_routes(settings)
    assert len(routes) >= 14
    before = await _state(world)
    carl = world.team.customer
    for endpoint in routes:
        response = await call(client, world, endpoint, carl.headers)
        where = f"{endpoint} {response.status_code} {response.text}"
        assert response.status_code in {403, 404}, where
        assert response.headers["content-type"] == "application/problem+json", where
        assert not _leaks(world, response), where
    assert await _state(world) == before


async def test_another_customers_order_is_404_as_if_it_did_not_exist(
    client: httpx.AsyncClient, world: World, settings: Settings
) -> None:
    carl = world.team.customer
    order_routes = [
        endpoint
        for endpoint in _object_routes(settings)
        if "{order_id}" in endpoint.path and not endpoint.path.endswith(("/ship", "/deliver"))
    ]
    assert len(order_routes) >= 3
    for endpoint in order_routes:
        response = await call(client, world, endpoint, carl.headers)
        body = assert_problem(response, 404, "order_not_found")
        assert body["order_id"] == str(world.coras_order["id"])


async def test_filters_naming_another_customer_do_not_widen_my_orders(
    client: httpx.AsyncClient, world: World
) -> None:
    carl = world.team.customer
    response = await client.get(
        "/api/v1/orders",
        params={"customer_id": world.cora.id, "owner": world.cora.id},
        headers=carl.headers,
    )
    assert response.status_code == 200, response.text
    assert [item["id"] for item in response.json()["items"]] == [world.carls_order["id"]]
    # The staff search does take a customer, and is staff-only.
    search = await client.get(
        "/api/v1/orders/search", params={"customer_id": world.cora.id}, headers=carl.headers
    )
    assert_problem(search, 403, "forbidden")


async def test_staff_see_any_order_but_another_staff_members_export_is_404(
    client: httpx.AsyncClient, world: World, database_url: str
) -> None:
    sue = await user_with_role(client, world.team.admin.tokens, "sue", "staff")
    order = await client.get(f"/api/v1/orders/{world.coras_order['id']}", headers=sue.headers)
    assert order.status_code == 200
    for method, suffix in (("GET", ""), ("POST", "/cancel"), ("GET", "/download")):
        response = await client.request(
            method, f"/api/v1/order-exports/{world.export_id}{suffix}", headers=sue.headers
        )
        assert_problem(response, 404, "export_not_found")
    assert await sql_value(
        database_url, "SELECT status FROM order_exports WHERE id::text = $1", world.export_id
    ) in {"queued", "running"}
