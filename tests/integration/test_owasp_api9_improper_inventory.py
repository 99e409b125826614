"""OWASP API9:2023 Improper Inventory Management: the OpenAPI is the inventory. Every route the
app serves is in it, but for an explicit list of routes that are not API operations (the docs
pages themselves, and /metrics, served on the API port only when APP_HTTP_METRICS_ON_API_PORT is
set; under gunicorn metrics have a port of their own). Nothing else answers: the usual paths of
forgotten debug, admin, config and old-version endpoints are 404.

Also proving it: test_gunicorn.py (the real server: metrics and docs not on the public port),
test_openapi.py (docs only in development unless enabled), test_routing.py (a path outside every
router's prefix is 404), test_owasp_api5_function_level_authorization.py (each route's callers).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from app.bootstrap.settings import Settings
from tests.integration.owasp_support import app_of, endpoints

pytestmark = pytest.mark.owasp("API9")

# Served, and rightly not in the OpenAPI.
NOT_OPERATIONS = frozenset({
    ("GET", "/openapi.json"),  # the inventory itself
    ("GET", "/docs"),  # Swagger UI, its OAuth2 redirect and ReDoc: pages over the inventory
    ("GET", "/docs/oauth2-redirect"),
    ("GET", "/redoc"),
    ("GET", "/metrics"),  # only with APP_HTTP_METRICS_ON_API_PORT (tests, one-process runs)
})  # fmt: skip

PROBES = (
    "/debug", "/debug/vars", "/admin", "/admin/", "/api/admin", "/api/v1/admin",
    "/.env", "/.git/config", "/config", "/env", "/actuator", "/actuator/health",
    "/server-status", "/phpinfo.php", "/console", "/graphql", "/swagger.json",
    "/api/v1/openapi.json", "/api/v1/docs", "/api/v0/users", "/api/v2/users", "/api/users",
    "/v1/users", "/api/v1/internal", "/api/v1/test", "/api/v1/health", "/health",
    "/healthz", "/status", "/api/v1/users/export/all", "/api/v1/orders/all/export",
    "/api/v1/admin/users", "/api/v1/admin/dead-letters/0/delete",
)  # fmt: skip


def _documented(openapi: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, item in openapi["paths"].items()
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    }


async def test_every_served_route_is_in_the_openapi_and_every_operation_is_served(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    openapi = (await client.get("/openapi.json")).json()
    served = {endpoint.key for endpoint in endpoints(app_of(settings))}
    documented = _documented(openapi)
    assert served - NOT_OPERATIONS == documented
    assert served >= NOT_OPERATIONS  # the list names nothing stale


async def test_every_operation_has_a_summary_a_tag_and_its_error_answers(
    client: httpx.AsyncClient,
) -> None:
    openapi = (await client.get("/openapi.json")).json()
    for path, item in openapi["paths"].items():
        for method, operation in item.items():
            where = f"{method.upper()} {path}"
            assert operation.get("summary") or operation.get("description"), where
            assert operation.get("tags"), where
            assert any(status.startswith("2") for status in operation["responses"]), where
            assert operation["operationId"], where


@pytest.mark.parametrize("path", PROBES)
async def test_undocumented_paths_do_not_answer(client: httpx.AsyncClient, path: str) -> None:
    for method in ("GET", "POST"):
        response = await client.request(method, path)
        # 404, or 405 where a documented path takes another method: never an answer.
        assert response.status_code in {404, 405}, (method, path, response.text)
        assert response.headers["content-type"] == "application/problem+json"


async def test_every_documented_server_and_version_is_this_one(client: httpx.AsyncClient) -> None:
    openapi = (await client.get("/openapi.json")).json()
    prefixes = {"/".join(path.split("/")[:3]) for path in openapi["paths"]}
    assert prefixes == {"/api/v1", "/health/live", "/health/ready"}
    assert openapi.get("servers") in (None, [{"url": "/"}])
    assert openapi["info"]["version"]
