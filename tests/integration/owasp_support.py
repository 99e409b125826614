"""Shared by the OWASP API Top 10 modules (test_owasp_api*.py): every route of the app, read from
the app itself, a world with one object of each kind owned by someone, and a request for any
route that is valid but for its caller's rights."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

import httpx
from fastapi import FastAPI
from fastapi.routing import APIRoute, _IncludedRouter
from starlette.routing import BaseRoute, Route

from app.bootstrap.api import create_app
from app.bootstrap.settings import Settings
from tests.integration.catalog_support import create_product
from tests.integration.export_support import start_export
from tests.integration.helpers import PASSWORD
from tests.integration.order_support import placed
from tests.integration.support import Actor, Staffing, staffing, user_with_role
from tests.support.sql import sql_execute

SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})
SKU: Final = "OWASP-1"


@dataclass(frozen=True, slots=True)
class Endpoint:
    method: str
    path: str
    in_schema: bool

    @property
    def key(self) -> tuple[str, str]:
        return self.method, self.path

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def _walk(routes: list[BaseRoute], prefix: str = "") -> Iterator[tuple[str, BaseRoute]]:
    for route in routes:
        if isinstance(route, _IncludedRouter):
            # Since FastAPI 0.137 an included router stays a node of the route tree.
            yield from _walk(route.original_router.routes, prefix + route.include_context.prefix)
        else:
            yield prefix, route


def endpoints(app: FastAPI) -> list[Endpoint]:
    """Every method and path the app answers, HEAD aside (Starlette adds it to GET routes)."""
    found: list[Endpoint] = []
    for prefix, route in _walk(app.routes):
        if not isinstance(route, APIRoute | Route):
            continue
        methods = sorted((route.methods or set()) - {"HEAD"})
        found.extend(
            Endpoint(method, prefix + route.path, bool(route.include_in_schema))
            for method in methods
        )
    return found


def app_of(settings: Settings) -> FastAPI:
    """The app as the tests' client serves it (building it does no I/O)."""
    return create_app(settings)


# --- The routes by who may call them ------------------------------------------------------------
# A route missing from these lists counts as admin+ (the strictest): a new route's test fails until
# someone decides here who may call it, so no route escapes the access checks.

# Answer without any credentials. Each is either a way in or public by design.
PUBLIC: Final = frozenset({
    ("GET", "/health/live"),  # probes: no I/O, no data
    ("GET", "/health/ready"),  # probes: dependency states only
    ("GET", "/metrics"),  # only with APP_HTTP_METRICS_ON_API_PORT (the tests' in-process apps)
    ("GET", "/openapi.json"),  # only when docs are enabled (development by default)
    ("GET", "/docs"),
    ("GET", "/docs/oauth2-redirect"),
    ("GET", "/redoc"),
    ("POST", "/api/v1/users"),  # sign-up
    ("POST", "/api/v1/auth/login"),  # log-in, JSON
    ("POST", "/api/v1/auth/token"),  # log-in, OAuth2 password form (Swagger)
    ("GET", "/api/v1/products"),  # the catalog; staff filters need staff (test_owasp_api5)
    ("GET", "/api/v1/products/{product_id}"),  # one product; archived ones need staff
    ("GET", "/api/v1/products/by-sku/{sku}"),
})  # fmt: skip

# Any signed-in caller, customers included; objects are still their owner's (test_owasp_api1).
SIGNED_IN: Final = frozenset({
    ("POST", "/api/v1/auth/refresh"),  # the refresh token is the credential (401 without one)
    ("POST", "/api/v1/auth/logout"),
    ("POST", "/api/v1/auth/logout-all"),
    ("GET", "/api/v1/users/me"),
    ("PUT", "/api/v1/users/me/password"),
    ("POST", "/api/v1/orders"),
    ("GET", "/api/v1/orders"),  # the caller's own orders
    ("GET", "/api/v1/orders/{order_id}"),
    ("POST", "/api/v1/orders/{order_id}/pay"),
    ("POST", "/api/v1/orders/{order_id}/cancel"),
})  # fmt: skip

# Staff and above.
STAFF: Final = frozenset({
    ("POST", "/api/v1/products"),
    ("PATCH", "/api/v1/products/{product_id}"),
    ("PUT", "/api/v1/products/{product_id}/price"),
    ("POST", "/api/v1/products/{product_id}/stock/restock"),
    ("POST", "/api/v1/products/{product_id}/stock/adjustments"),
    ("POST", "/api/v1/products/{product_id}/archive"),
    ("POST", "/api/v1/products/{product_id}/reactivate"),
    ("GET", "/api/v1/orders/search"),
    ("POST", "/api/v1/orders/{order_id}/ship"),
    ("POST", "/api/v1/orders/{order_id}/deliver"),
    ("POST", "/api/v1/order-exports"),
    ("GET", "/api/v1/order-exports"),
    # An export is its starter's (and admins'): anyone else, a customer too, gets 404.
    ("GET", "/api/v1/order-exports/{export_id}"),
    ("POST", "/api/v1/order-exports/{export_id}/cancel"),
    ("GET", "/api/v1/order-exports/{export_id}/download"),
})  # fmt: skip
OWNER_SCOPED: Final = frozenset({
    ("GET", "/api/v1/order-exports/{export_id}"),
    ("POST", "/api/v1/order-exports/{export_id}/cancel"),
    ("GET", "/api/v1/order-exports/{export_id}/download"),
})  # fmt: skip


def needs_credentials(endpoint: Endpoint) -> bool:
    return endpoint.key not in PUBLIC


def is_staff_or_above(endpoint: Endpoint) -> bool:
    return endpoint.key not in PUBLIC | SIGNED_IN


def is_admin_or_above(endpoint: Endpoint) -> bool:
    return endpoint.key not in PUBLIC | SIGNED_IN | STAFF


# --- A world to aim at --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class World:
    """root (super_admin), adam (admin), sam (staff), carl and cora (customers), and one object
    of each kind: a product, an order of each customer, sam's export, a dead letter."""

    team: Staffing
    cora: Actor
    product_id: str
    carls_order: dict[str, Any]
    coras_order: dict[str, Any]
    export_id: str
    dead_letter_id: str
    database_url: str
    extra: dict[str, str] = field(default_factory=dict)

    def path_values(self) -> dict[str, str]:
        """What goes into each path parameter: objects that are *not* carl's."""
        return {
            "user_id": self.cora.id,
            "role": "staff",
            "order_id": str(self.coras_order["id"]),
            "export_id": self.export_id,
            "dead_letter_id": self.dead_letter_id,
            "product_id": self.product_id,
            "sku": SKU,
        }

    def url(self, endpoint: Endpoint) -> str:
        values = self.path_values()

        def value(match: re.Match[str]) -> str:
            return values[match.group(1)]

        return re.sub(r"\{(\w+)\}", value, endpoint.path)


async def open_world(client: httpx.AsyncClient, database_url: str) -> World:
    team = await staffing(client, database_url)
    cora = await user_with_role(client, team.admin.tokens, "cora", "customer")
    product_id = await create_product(
        client, team.staff.headers, sku=SKU, stock_on_hand=100, price_amount="10.00"
    )
    carls = await placed(client, team.customer, (product_id, 1))
    coras = await placed(client, cora, (product_id, 2))
    today = datetime.now(UTC).date().isoformat()
    started = await start_export(client, team.staff.headers, today, today)
    assert started.status_code == 202, started.text
    dead_letter_id = str(uuid.uuid4())
    await sql_execute(
        database_url,
        "INSERT INTO dead_letters (id, task_id, task_name, kwargs, error_type, error_message,"
        " retries, failed_at) VALUES ($1, 'task-1', 'notifications.send_order_confirmation',"
        " $2::jsonb, 'SMTPException', 'boom', 5, now())",
        uuid.UUID(dead_letter_id),
        json.dumps({"event_id": str(uuid.uuid4())}),
    )
    return World(
        team=team,
        cora=cora,
        product_id=product_id,
        carls_order=carls,
        coras_order=coras,
        export_id=str(started.json()["id"]),
        dead_letter_id=dead_letter_id,
        database_url=database_url,
    )


# Bodies and query strings that are valid, so that only the caller's rights can refuse them.
BODIES: Final[dict[tuple[str, str], dict[str, Any]]] = {
    ("POST", "/api/v1/users"): {
        "username": "newcomer", "email": "newcomer@example.com", "password": PASSWORD,
    },
    ("POST", "/api/v1/auth/login"): {"login": "carl", "password": PASSWORD},
    ("POST", "/api/v1/auth/refresh"): {},
    ("PUT", "/api/v1/users/me/password"): {
        "current_password": PASSWORD, "new_password": "a brand new passphrase 2024",
    },
    ("POST", "/api/v1/products"): {
        "sku": "OWASP-2", "name": "Probe", "price_amount": "1.00", "currency": "EUR",
    },
    ("PATCH", "/api/v1/products/{product_id}"): {"name": "Renamed", "description": ""},
    ("PUT", "/api/v1/products/{product_id}/price"): {"amount": "0.01", "currency": "EUR"},
    ("POST", "/api/v1/products/{product_id}/stock/restock"): {
        "quantity": 5, "reason": "Delivery 2024-117",
    },
    ("POST", "/api/v1/products/{product_id}/stock/adjustments"): {
        "delta": -5, "reason": "Damaged in storage",
    },
    ("POST", "/api/v1/orders/{order_id}/pay"): {"card_number": "4242424242424242"},
    ("POST", "/api/v1/orders/{order_id}/cancel"): {"reason": "probe"},
    ("POST", "/api/v1/order-exports"): {"first_day": "2024-01-01", "last_day": "2024-01-31"},
}  # fmt: skip
FORMS: Final[dict[tuple[str, str], dict[str, str]]] = {
    ("POST", "/api/v1/auth/token"): {"username": "carl", "password": PASSWORD},
}
QUERIES: Final[dict[tuple[str, str], dict[str, str]]] = {
    ("GET", "/api/v1/orders/sales-summary"): {"from": "2024-01-01", "to": "2024-01-31"},
    ("GET", "/api/v1/orders/daily-sales"): {"from": "2024-01-01", "to": "2024-01-31"},
}


def order_body(world: World) -> dict[str, Any]:
    return {"lines": [{"product_id": world.product_id, "quantity": 1}]}


async def call(
    client: httpx.AsyncClient,
    world: World,
    endpoint: Endpoint,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """The endpoint, aimed at objects that are not carl's, with a valid body and query."""
    key = endpoint.key
    body: dict[str, Any] | None = BODIES.get(key)
    if key == ("POST", "/api/v1/orders"):
        body = order_body(world)
    return await client.request(
        endpoint.method,
        world.url(endpoint),
        json=body,
        data=FORMS.get(key),
        params=QUERIES.get(key),
        headers=headers or {},
    )


def required_inputs(openapi: dict[str, Any], endpoint: Endpoint) -> tuple[bool, set[str]]:
    """Whether the operation requires a body, and its required query parameters."""
    operation = openapi["paths"][endpoint.path][endpoint.method.lower()]
    body = bool(operation.get("requestBody", {}).get("required"))
    queries = {
        p["name"]
        for p in operation.get("parameters", [])
        if p["in"] == "query" and p.get("required")
    }
    return body, queries


def assert_samples_cover(openapi: dict[str, Any], found: list[Endpoint]) -> None:
    """Every operation with a required body or query has a sample here: a new one fails loudly
    instead of being refused with 422 before its access check."""
    missing: list[str] = []
    for endpoint in found:
        if not endpoint.in_schema:
            continue
        body, queries = required_inputs(openapi, endpoint)
        has_body = endpoint.key in BODIES or endpoint.key in FORMS
        has_body = has_body or endpoint.key == ("POST", "/api/v1/orders")
        if body and not has_body:
            missing.append(f"{endpoint}: a body")
        if queries - set(QUERIES.get(endpoint.key, {})):
            missing.append(f"{endpoint}: query {sorted(queries)}")
    assert not missing, f"add samples to tests/integration/owasp_support.py: {missing}"
