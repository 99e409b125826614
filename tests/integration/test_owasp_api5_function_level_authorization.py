"""OWASP API5:2023 Broken Function Level Authorization: every route that is not public answers
401 without credentials; every staff route answers 403 to a customer, every admin route 403 to
staff. The routes come from the app itself (owasp_support.endpoints), and the lists of public,
signed-in and staff routes are explicit there: a new route counts as admin-only until it is
listed, so it cannot escape these checks.

Also proving it, for parts of the API: test_orders_access.py (order routes: 401 for anonymous
callers, 403 for customers on search, ship, deliver and the sales summary),
test_admin_users.py (customers and staff get 403 on every user administration route),
test_order_exports_api.py (401 on every export route, 403 for a customer starting one),
test_products_commands.py (staff-only catalog writes), tests/unit/test_permissions.py (the role
hierarchy behind every check).
"""

from __future__ import annotations

import httpx
import pytest

from app.bootstrap.settings import Settings
from tests.integration.owasp_support import (
    OWNER_SCOPED,
    PUBLIC,
    SIGNED_IN,
    STAFF,
    Endpoint,
    World,
    app_of,
    assert_samples_cover,
    call,
    endpoints,
    is_admin_or_above,
    is_staff_or_above,
    needs_credentials,
    open_world,
)
from tests.integration.support import assert_problem, assert_unauthorized

pytestmark = pytest.mark.owasp("API5")


@pytest.fixture
async def world(client: httpx.AsyncClient, database_url: str) -> World:
    return await open_world(client, database_url)


@pytest.fixture
def app_endpoints(settings: Settings) -> list[Endpoint]:
    return endpoints(app_of(settings))


async def _openapi(client: httpx.AsyncClient) -> dict[str, object]:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    return dict(response.json())


def test_the_route_lists_name_only_routes_the_app_serves(app_endpoints: list[Endpoint]) -> None:
    served = {endpoint.key for endpoint in app_endpoints}
    assert (PUBLIC | SIGNED_IN | STAFF | OWNER_SCOPED) - served == set()
    # Enough routes are left to the admin-only default for the checks below to mean something.
    assert len([e for e in app_endpoints if is_admin_or_above(e)]) >= 10


async def test_every_route_but_the_public_ones_is_401_without_credentials(
    client: httpx.AsyncClient, world: World, app_endpoints: list[Endpoint]
) -> None:
    assert_samples_cover(await _openapi(client), app_endpoints)
    checked = [endpoint for endpoint in app_endpoints if needs_credentials(endpoint)]
    assert len(checked) >= 35
    for endpoint in checked:
        response = await call(client, world, endpoint)
        assert response.status_code == 401, (str(endpoint), response.text)
        assert response.json()["code"] in {"not_authenticated", "session_revoked"}, str(endpoint)
        assert response.headers["www-authenticate"] == "Bearer", str(endpoint)


async def test_every_staff_and_admin_route_is_403_for_a_customer(
    client: httpx.AsyncClient, world: World, app_endpoints: list[Endpoint]
) -> None:
    carl = world.team.customer
    checked = [endpoint for endpoint in app_endpoints if is_staff_or_above(endpoint)]
    assert len(checked) >= 25
    for endpoint in checked:
        response = await call(client, world, endpoint, carl.headers)
        if endpoint.key in OWNER_SCOPED:
            # Another's export, whoever asks: indistinguishable from none at all.
            assert_problem(response, 404, "export_not_found")
        else:
            assert response.status_code == 403, (str(endpoint), response.text)
            assert response.headers["content-type"] == "application/problem+json"


async def test_every_admin_route_is_403_for_staff(
    client: httpx.AsyncClient, world: World, app_endpoints: list[Endpoint]
) -> None:
    sam = world.team.staff
    checked = [endpoint for endpoint in app_endpoints if is_admin_or_above(endpoint)]
    for endpoint in checked:
        response = await call(client, world, endpoint, sam.headers)
        assert response.status_code == 403, (str(endpoint), response.text)


@pytest.mark.parametrize("params", [{"status": "archived"}, {"all_statuses": "true"}])
async def test_the_catalogs_staff_filters_are_refused_to_customers_and_anonymous_callers(
    client: httpx.AsyncClient, world: World, params: dict[str, str]
) -> None:
    anonymous = await client.get("/api/v1/products", params=params)
    assert_unauthorized(anonymous, "not_authenticated")
    customer = await client.get(
        "/api/v1/products", params=params, headers=world.team.customer.headers
    )
    assert customer.status_code == 403, customer.text
    staff = await client.get("/api/v1/products", params=params, headers=world.team.staff.headers)
    assert staff.status_code == 200, staff.text
