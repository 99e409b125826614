"""OWASP API8:2023 Security Misconfiguration: CORS answers only the allow-listed origins, the
production settings serve no docs, no debug pages and no metrics on the API port, and no error
body, whatever went wrong, holds a traceback or the server's internals.

Also proving it: test_http_edge.py (the security headers on every answer, HSTS over HTTPS),
test_openapi.py (docs only in development unless enabled), test_gunicorn.py (metrics and docs
not on the public port of the real server), test_observability.py (an unexpected error is a 500
problem with its request id and no exception text), test_sql_errors_hide_values.py (database
errors logged without values), tests/unit/test_settings.py (a placeholder or short JWT secret
stops start-up outside development), test_products_queries.py (a 422 never echoes its input).
"""

from __future__ import annotations

import dataclasses

import httpx
import pytest

from app.bootstrap.api import create_app
from app.bootstrap.settings import AppSettings, AuthSettings, HttpSettings, Settings
from tests.integration.conftest import ClientFactory
from tests.integration.helpers import PASSWORD, bearer, log_in, sign_up
from tests.integration.support import assert_problem

pytestmark = pytest.mark.owasp("API8")

ALLOWED = "https://shop.example"
FOREIGN = "https://evil.example"
# What a traceback or a debug page would show.
INTERNALS = ("Traceback", 'File "', "/app/", "site-packages", "sqlalchemy", "asyncpg", "Error:")


@pytest.fixture
async def cors_client(make_client: ClientFactory, settings: Settings) -> httpx.AsyncClient:
    return await make_client(
        dataclasses.replace(
            settings, http=settings.http.model_copy(update={"cors_origins": [ALLOWED]})
        )
    )


async def test_an_allow_listed_origin_gets_cors_headers(cors_client: httpx.AsyncClient) -> None:
    response = await cors_client.get("/api/v1/products", headers={"Origin": ALLOWED})
    assert response.headers["access-control-allow-origin"] == ALLOWED
    assert response.headers["access-control-allow-credentials"] == "true"
    preflight = await cors_client.options(
        "/api/v1/orders",
        headers={
            "Origin": ALLOWED,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == ALLOWED


async def test_a_foreign_origin_gets_no_cors_headers(cors_client: httpx.AsyncClient) -> None:
    for origin in (FOREIGN, "null", "https://shop.example.evil.example", "http://shop.example"):
        response = await cors_client.get("/api/v1/products", headers={"Origin": origin})
        assert response.status_code == 200
        # No CORS header at all: nothing advertised to an origin that is refused.
        assert not [name for name in response.headers if name.startswith("access-control-")]
        assert "Origin" in response.headers["vary"]
        preflight = await cors_client.options(
            "/api/v1/orders",
            headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
        )
        assert not [name for name in preflight.headers if name.startswith("access-control-")]
        # Refused like any other error of the API: a problem that says what was refused.
        problem = assert_problem(preflight, 400, "cors_preflight_refused")
        assert "origin" in problem["detail"], problem
        assert problem["request_id"] == preflight.headers["x-request-id"]


async def test_without_an_allow_list_no_origin_gets_cors_headers(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/api/v1/products", headers={"Origin": ALLOWED})
    assert "access-control-allow-origin" not in response.headers
    preflight = await client.options(
        "/api/v1/products", headers={"Origin": ALLOWED, "Access-Control-Request-Method": "GET"}
    )
    assert "access-control-allow-origin" not in preflight.headers
    assert preflight.status_code == 405


def test_the_production_app_has_no_debug_mode_docs_or_metrics(settings: Settings) -> None:
    production = dataclasses.replace(
        settings,
        app=AppSettings(env="production"),
        auth=AuthSettings(jwt_secret="p" * 48),
        http=HttpSettings(),
    )
    app = create_app(production)
    assert app.debug is False
    assert (app.docs_url, app.redoc_url, app.openapi_url) == (None, None, None)
    paths = {getattr(route, "path", None) for route in app.routes}
    assert paths.isdisjoint({"/docs", "/redoc", "/openapi.json", "/metrics"})


async def test_no_error_body_holds_a_traceback_or_internals(
    make_client: ClientFactory, settings: Settings
) -> None:
    client = await make_client(
        dataclasses.replace(settings, app=AppSettings(env="production"), http=HttpSettings())
    )
    await sign_up(client, "alice")
    tokens = await log_in(client, "alice")
    answers = [
        await client.get("/api/v1/nowhere"),  # 404
        await client.delete("/api/v1/products"),  # 405
        await client.post("/api/v1/auth/login", content=b'{"login": '),  # 422, broken JSON
        await client.post(
            "/api/v1/auth/login",
            content=b'{"login": "\xff\xfe", "password": "x"}',
            headers={"content-type": "application/json"},
        ),  # not UTF-8
        await client.post("/api/v1/auth/login", json={"login": ["a"], "password": {"b": 1}}),
        await client.post("/api/v1/auth/login", json={"login": "alice", "password": "nope"}),
        await client.get("/api/v1/orders/not-a-uuid", headers=bearer(tokens)),
        await client.get("/api/v1/products", params={"cursor": "!!!"}),  # forged cursor
        await client.get("/api/v1/products", params={"limit": "1e999"}),
        await client.get("/api/v1/users/me", headers={"Authorization": "Bearer a.b.c"}),
        await client.post(
            "/api/v1/orders",
            json={"lines": [{"product_id": "x", "quantity": 10**30}]},
            headers=bearer(tokens),
        ),
        await client.put(
            "/api/v1/users/me/password",
            json={"current_password": PASSWORD, "new_password": "short"},
            headers=bearer(tokens),
        ),
        await client.post(
            "/api/v1/auth/login",
            content=b"x" * 2_000_000,
            headers={"content-type": "application/json"},
        ),  # 413
    ]
    for response in answers:
        where = f"{response.request.method} {response.request.url} {response.status_code}"
        assert 400 <= response.status_code < 500, (where, response.text)
        assert response.headers["content-type"] == "application/problem+json", where
        for marker in INTERNALS:
            assert marker not in response.text, (where, marker, response.text)
