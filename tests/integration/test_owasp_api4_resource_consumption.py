"""OWASP API4:2023 Unrestricted Resource Consumption: every route refuses a body over
APP_HTTP_MAX_BODY_BYTES (413) and a body that does not arrive within APP_HTTP_BODY_TIMEOUT_SECONDS
(408); every listing caps its page size; log-in, sign-up and ordering are rate limited.

Also proving it: test_http_edge.py (the 413 before any route reads a declared body, a chunked
body counted as it arrives, a 20 MB body through the real server), test_rate_limits.py (log-in
per account and address and per address, sign-up per address, IPv6 networks, trusted proxies,
fail-open), test_password_guessing.py (per-account back-off), test_orders_place.py (place-order
per customer), test_orders_hoarding.py (unpaid orders and units per customer, orders per
address), test_catalog_cache_flooding.py (anonymous listings per address, a bounded cache),
test_admin_users.py and test_products_queries.py (limits and cursors of two listings),
test_order_exports_api.py (unfinished exports per member, an export's size cap), the Argon2
pool's bound (503 service_busy: tests/unit/test_auth_interactors.py).

New here: the 413 on every route of the app, the slow-body 408 (uvicorn has no such bound; the
app had none until this module), and the page-size cap of every listing in the OpenAPI.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from app.bootstrap.settings import Settings
from tests.integration.conftest import ClientFactory
from tests.integration.helpers import PASSWORD
from tests.integration.owasp_support import app_of, endpoints
from tests.integration.support import assert_problem, bootstrap_super_admin

pytestmark = pytest.mark.owasp("API4")

LIMIT = 1_048_576
ANY_ID = "00000000-0000-4000-8000-000000000000"


async def test_every_route_refuses_a_body_over_the_limit_before_reading_it(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    found = endpoints(app_of(settings))
    assert len(found) >= 40
    for endpoint in found:
        url = re.sub(r"\{\w+\}", ANY_ID, endpoint.path)
        response = await client.request(
            endpoint.method,
            url,
            content=b"[" + b"0," * (LIMIT // 2) + b"0]",
            headers={"content-type": "application/json"},
        )
        body = assert_problem(response, 413, "request_entity_too_large")
        assert str(LIMIT) in body["detail"], str(endpoint)


async def _stalled_body(sent: asyncio.Event, never: asyncio.Event) -> AsyncIterator[bytes]:
    yield b'{"login": "alice", '
    sent.set()
    await never.wait()  # the rest never comes
    yield b'"password": "x"}'


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
async def test_a_body_that_does_not_arrive_in_time_is_a_408(
    make_client: ClientFactory, settings: Settings, declared: bool
) -> None:
    http = settings.http.model_copy(update={"body_timeout_seconds": 0.2})
    client = await make_client(dataclasses.replace(settings, http=http))
    sent, never = asyncio.Event(), asyncio.Event()
    headers = {"content-type": "application/json"}
    if declared:
        headers["content-length"] = "36"
    try:
        response = await client.post(
            "/api/v1/auth/login", content=_stalled_body(sent, never), headers=headers
        )
    finally:
        never.set()
    assert sent.is_set()
    body = assert_problem(response, 408, "request_timeout")
    assert "0.2 seconds" in body["detail"]
    assert response.headers["connection"] == "close"


async def test_a_body_that_arrives_in_time_is_read_as_usual(
    make_client: ClientFactory, settings: Settings
) -> None:
    http = settings.http.model_copy(update={"body_timeout_seconds": 5})
    client = await make_client(dataclasses.replace(settings, http=http))

    async def chunks() -> AsyncIterator[bytes]:
        for part in (b'{"username": "alice", ', b'"email": "alice@example.com", ',
                     b'"password": "' + PASSWORD.encode() + b'"}'):  # fmt: skip
            yield part

    response = await client.post(
        "/api/v1/users", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 201, response.text
    # A streamed answer, which waits on the request for a disconnect, is not cut short either.
    assert (await client.get("/api/v1/products")).status_code == 200


def _listings(openapi: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """GET operations whose answer is a page: {"items": [...], "next_cursor": ...}."""
    found = []
    for path, item in openapi["paths"].items():
        operation = item.get("get")
        if operation is None:
            continue
        content = operation["responses"]["200"].get("content", {})
        schema = content.get("application/json", {}).get("schema", {})
        ref = schema.get("$ref", "")
        properties = openapi["components"]["schemas"].get(ref.rsplit("/", 1)[-1], {})
        if {"items", "next_cursor"} <= set(properties.get("properties", {})):
            found.append((path, operation))
    return found


async def test_every_listing_caps_its_page_size(
    client: httpx.AsyncClient, database_url: str
) -> None:
    _, tokens = await bootstrap_super_admin(client, database_url)
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    openapi = (await client.get("/openapi.json")).json()
    listings = _listings(openapi)
    assert len(listings) >= 6
    for path, operation in listings:
        (limit,) = [p for p in operation["parameters"] if p["name"] == "limit"]
        maximum = limit["schema"]["maximum"]
        assert maximum <= 200, path
        assert limit["schema"]["minimum"] == 1, path
        for value in (maximum + 1, 0, -1, 10**9):
            response = await client.get(path, params={"limit": value}, headers=headers)
            assert_problem(response, 422, "validation_error")
        answer = await client.get(path, params={"limit": maximum}, headers=headers)
        assert answer.status_code == 200, (path, answer.text)
