"""The app's edge (app/shared/presentation/http/security.py, shedding.py and the 405 handler):
request bodies are bounded (413, problem+json, on every route), every answer carries the security
headers, a 405 lists every method of its path, a process past its bound of requests in flight
answers 503 at once, and the OpenAPI documents what any body can be answered."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from app.bootstrap.settings import AppSettings, HttpSettings, Settings
from tests.integration.catalog_support import PRODUCTS, create_product
from tests.integration.conftest import ClientFactory
from tests.integration.helpers import PASSWORD, bearer, log_in, sign_up
from tests.integration.server_support import serve_api
from tests.integration.support import Staffing
from tests.support.polling import until
from tests.support.sql import asyncpg_dsn, sql_value

LIMIT = 1_048_576  # APP_HTTP_MAX_BODY_BYTES's default
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cross-origin-resource-policy": "same-origin",
    "cross-origin-opener-policy": "same-origin",
}


def _assert_too_large(response: httpx.Response) -> None:
    assert response.status_code == 413, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == "request_entity_too_large"
    assert str(LIMIT) in body["detail"]
    assert body["request_id"] == response.headers["x-request-id"]


@pytest.mark.owasp("API4")
async def test_a_declared_body_over_the_limit_is_refused_before_any_route_reads_it(
    client: httpx.AsyncClient,
) -> None:
    big = json.dumps({"login": "x" * (LIMIT + 1), "password": PASSWORD}).encode()
    _assert_too_large(await client.post("/api/v1/auth/login", content=big))
    # A route that never reads a body answers the same problem, not plain text.
    _assert_too_large(await client.request("GET", "/api/v1/products", content=big))
    # Just under the limit, the route answers as usual (here: the JSON is not a log-in).
    small = json.dumps({"padding": "x" * (LIMIT - 100)}).encode()
    assert (await client.post("/api/v1/auth/login", content=small)).status_code == 422


@pytest.mark.owasp("API4")
async def test_a_chunked_body_is_counted_as_it_arrives(client: httpx.AsyncClient) -> None:
    sent: list[int] = []

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(64):  # 4 MiB in all, if it were all read
            sent.append(1)
            yield b" " * 65_536

    response = await client.post(
        "/api/v1/auth/login", content=chunks(), headers={"content-type": "application/json"}
    )
    assert "content-length" not in response.request.headers
    _assert_too_large(response)
    assert len(sent) <= LIMIT // 65_536 + 2, "the body was read past the limit"


@pytest.mark.owasp("API4")
def test_a_20_mb_body_through_the_real_server_is_a_413(settings: Settings, tmp_path: Path) -> None:
    """As the security review tried it: gunicorn and uvicorn in front, a 20 MB JSON body."""
    body = b'{"login": "' + b"x" * 20_000_000 + b'", "password": "p"}'
    with serve_api(settings, tmp_path) as served:
        response = httpx.post(
            f"{served.base}/api/v1/auth/login",
            content=body,
            headers={"content-type": "application/json"},
            timeout=30,
        )
        _assert_too_large(response)
        # The server stays healthy for the next client.
        assert httpx.get(f"{served.base}/health/live", timeout=5).status_code == 200


@pytest.mark.owasp("API8")
async def test_every_answer_carries_the_security_headers(client: httpx.AsyncClient) -> None:
    await sign_up(client, "edgy")
    tokens = await log_in(client, "edgy")
    answers = [
        await client.get("/health/live"),
        await client.get("/api/v1/products"),
        await client.get("/api/v1/users/me", headers=bearer(tokens)),
        await client.get("/api/v1/users/me"),  # 401
        await client.get("/nowhere"),  # 404
        await client.post("/api/v1/auth/login", content=b"{"),  # 422
    ]
    for response in answers:
        where = f"{response.request.method} {response.request.url.path} {response.status_code}"
        for name, value in SECURITY_HEADERS.items():
            assert response.headers.get(name) == value, (where, name)
        assert response.headers["cache-control"] == "no-store", where
        csp = response.headers["content-security-policy"]
        assert "default-src 'none'" in csp, where
        assert "frame-ancestors 'none'" in csp, where
        assert "strict-transport-security" not in response.headers, "HSTS over plain HTTP"


@pytest.mark.owasp("API8")
async def test_hsts_is_sent_over_https_and_the_docs_pages_keep_their_scripts(
    make_client: ClientFactory, settings: Settings
) -> None:
    client = await make_client(
        dataclasses.replace(
            settings, app=AppSettings(env="development"), http=HttpSettings(docs_enabled=True)
        )
    )
    # HTTPS as a trusted proxy (the test client's 127.0.0.1) reports it.
    secure = await client.get("/health/live", headers={"x-forwarded-proto": "https"})
    assert secure.headers["strict-transport-security"].startswith("max-age=31536000")
    docs = await client.get("/docs")
    assert docs.status_code == 200
    # Swagger UI comes from a CDN and runs an inline script: the API's policy would blank it.
    assert "content-security-policy" not in docs.headers
    assert docs.headers["x-content-type-options"] == "nosniff"
    assert "content-security-policy" in (await client.get("/openapi.json")).headers


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("DELETE", "/api/v1/products", "GET, POST"),
        ("PUT", "/api/v1/order-exports", "GET, POST"),
        ("DELETE", "/api/v1/products/0b7c1f8e-3c1a-4a51-9a4e-1d2b3c4d5e6f", "GET, PATCH"),
        ("GET", "/api/v1/users/0b7c1f8e-3c1a-4a51-9a4e-1d2b3c4d5e6f/roles/staff", "PUT, DELETE"),
    ],
)
async def test_a_405_lists_every_method_of_its_path(
    client: httpx.AsyncClient, method: str, path: str, allowed: str
) -> None:
    """The four paths schemathesis found listing only one of their methods."""
    response = await client.request(method, path)
    assert response.status_code == 405
    assert response.headers["allow"] == allowed
    assert response.headers["content-type"] == "application/problem+json"


async def test_the_openapi_documents_what_any_body_can_be_answered(
    client: httpx.AsyncClient,
) -> None:
    spec = (await client.get("/openapi.json")).json()
    with_body = [
        (path, method, operation)
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
        if "requestBody" in operation
    ]
    assert len(with_body) >= 10
    for path, method, operation in with_body:
        for status in ("400", "413"):
            documented = operation["responses"].get(status)
            assert documented, f"{method.upper()} {path}: {status} undocumented"
            content = documented["content"]["application/problem+json"]["schema"]
            assert content == {"$ref": "#/components/schemas/Problem"}
    # An operation without a body gains nothing.
    assert "413" not in spec["paths"]["/api/v1/users/me"]["get"]["responses"]


# --- Load shedding (app/shared/presentation/http/shedding.py) --------------------------------


async def test_past_its_bound_a_process_answers_503_overloaded_at_once_but_never_its_probes(
    make_client: ClientFactory, settings: Settings, team: Staffing, database_url: str
) -> None:
    """One request held in flight (a restock waiting on the product's row, which the test
    locks) fills a bound of one: the next is refused at once with 503, a problem body and
    Retry-After, the probes still answer, and once the held request ends, requests pass again."""
    client = await make_client(
        dataclasses.replace(settings, http=settings.http.model_copy(update={"max_in_flight": 1}))
    )
    product = await create_product(client, team.staff.headers, sku="SHED-1")
    connection = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        locked = connection.transaction()
        await locked.start()
        await connection.execute("SELECT 1 FROM products WHERE id = $1::uuid FOR UPDATE", product)
        held = asyncio.create_task(
            client.post(
                f"{PRODUCTS}/{product}/stock/restock",
                json={"quantity": 1, "reason": "goods in"},
                headers=team.staff.headers,
            )
        )
        await until(lambda: _waiting_on_a_lock(database_url))

        refused = await client.get(PRODUCTS)
        assert refused.status_code == 503, refused.text
        assert refused.headers["retry-after"] == "1"
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["code"] == "overloaded"
        assert refused.headers["x-content-type-options"] == "nosniff"  # through the edge
        assert (await client.get("/health/live")).status_code == 200
        assert (await client.get("/metrics")).status_code == 200

        await locked.rollback()
        assert (await held).status_code == 200
    finally:
        await connection.close()
    assert (await client.get(PRODUCTS)).status_code == 200


async def _waiting_on_a_lock(database_url: str) -> bool:
    waiting = await sql_value(
        database_url,
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND wait_event_type = 'Lock'",
    )
    return bool(waiting)


async def test_the_openapi_documents_503_on_every_operation_but_liveness(
    client: httpx.AsyncClient,
) -> None:
    spec = (await client.get("/openapi.json")).json()
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            documented = operation["responses"].get("503")
            if path == "/health/live":
                assert documented is None, "the liveness probe is never shed and needs no I/O"
                continue
            assert documented, f"{method.upper()} {path}: 503 undocumented"
            if path != "/health/ready":  # its 503 is its own body, saying which check failed
                assert "application/problem+json" in documented["content"], (method, path)
