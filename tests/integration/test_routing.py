"""PrefixedRouter and include_context: skipping routers by prefix, and serving their routes ahead
of FastAPI's route tree, change nothing a client can see."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, _IncludedRouter
from starlette.requests import Request
from starlette.responses import PlainTextResponse

from app.bootstrap.api import create_app
from app.shared.presentation.http.routing import ContextRoutes, PrefixedRouter, include_context
from tests.conftest import build_settings

Include = Callable[[FastAPI, PrefixedRouter], None]


def _included_as_usual(app: FastAPI, router: PrefixedRouter) -> None:
    app.include_router(router)


def _app(include: Include = include_context) -> FastAPI:
    orders = PrefixedRouter(prefix="/api/v1/orders")
    exports = PrefixedRouter(prefix="/api/v1/order-exports")

    @orders.get("/{order_id}")
    async def get_order(order_id: int) -> dict[str, int]:
        return {"order": order_id}

    @orders.delete("/{order_id}")
    async def delete_order(order_id: int) -> dict[str, int]:
        return {"deleted": order_id}

    @exports.get("")
    async def list_exports() -> list[str]:
        return ["export"]

    @exports.post("")
    async def start_export() -> dict[str, str]:
        return {"status": "queued"}

    app = FastAPI()
    include(app, orders)
    include(app, exports)
    return app


def _client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


@pytest.fixture(params=[_included_as_usual, include_context], ids=["tree", "context-routes"])
async def client(request: pytest.FixtureRequest) -> httpx.AsyncClient:
    return _client(_app(request.param))


async def test_routes_under_each_prefix_answer(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/v1/orders/7")).json() == {"order": 7}
    # "/api/v1/order-exports" does not start with "/api/v1/orders": found in the next router.
    assert (await client.get("/api/v1/order-exports")).json() == ["export"]


async def test_a_path_outside_every_prefix_is_404(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/v1/ordersx/7")).status_code == 404
    assert (await client.get("/elsewhere")).status_code == 404


async def test_a_wrong_method_is_405_with_every_method_of_the_path(
    client: httpx.AsyncClient,
) -> None:
    response = await client.put("/api/v1/orders/7")
    assert response.status_code == 405
    assert set(response.headers["allow"].split(", ")) >= {"GET"}


async def test_a_trailing_slash_is_still_redirected(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/order-exports/")
    assert response.status_code == 307
    assert response.headers["location"].endswith("/api/v1/order-exports")


def test_a_prefix_with_parameters_is_refused() -> None:
    with pytest.raises(ValueError, match="static prefix"):
        PrefixedRouter(prefix="/api/v1/users/{user_id}")


async def test_a_served_request_never_goes_through_fastapis_own_node(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(*_: object) -> object:
        raise AssertionError("FastAPI's own node matched the request")

    monkeypatch.setattr(_IncludedRouter, "_match", refuse)
    monkeypatch.setattr(_IncludedRouter, "_handle_selected", refuse)
    async with _client(_app()) as client:
        assert (await client.get("/api/v1/orders/7")).json() == {"order": 7}
        assert (await client.post("/api/v1/order-exports")).json() == {"status": "queued"}
        assert (await client.put("/api/v1/orders/7")).status_code == 405
    with pytest.raises(AssertionError, match="own node"):  # as FastAPI serves an included router
        async with _client(_app(_included_as_usual)) as client:
            await client.get("/api/v1/orders/7")


async def test_a_route_added_to_a_router_after_it_was_included_is_served() -> None:
    app = FastAPI()
    router = PrefixedRouter(prefix="/api/v1/things")
    include_context(app, router)

    @router.get("/late")
    async def late() -> dict[str, str]:
        return {"added": "late"}

    async with _client(app) as client:
        assert (await client.get("/api/v1/things/late")).json() == {"added": "late"}


def test_a_plain_starlette_route_is_refused() -> None:
    # FastAPI would serve it outside the prefix (it gives such a route none), ContextRoutes not
    # at all.
    router = PrefixedRouter(prefix="/api/v1/things")

    async def plain(_: Request) -> PlainTextResponse:
        return PlainTextResponse("plain")

    with pytest.raises(TypeError, match="API routes only"):
        router.add_route("/plain", plain, methods=["GET"])


def test_each_router_is_a_context_node_in_its_place() -> None:
    nodes = _app().router.routes
    assert [type(node) for node in nodes[-2:]] == [ContextRoutes, ContextRoutes]
    assert [node.original_router.prefix for node in nodes[-2:]] == [  # type: ignore[attr-defined]
        "/api/v1/orders",
        "/api/v1/order-exports",
    ]


def test_the_platform_serves_through_context_nodes_exactly_what_its_openapi_describes() -> None:
    app = create_app(build_settings("postgresql+asyncpg://nobody@127.0.0.1:1/none", "redis://x"))
    described = {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        for method in operations
    }
    served = {
        (method, route.path)
        for node in app.router.routes
        if isinstance(node, ContextRoutes)
        for route in node.original_router.routes
        if isinstance(route, APIRoute) and route.include_in_schema
        for method in (route.methods or set()) - {"HEAD"}
    }
    assert served == described
    assert len(served) > 40
