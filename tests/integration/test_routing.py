"""PrefixedRouter: skipping routers by prefix changes nothing a client can see."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from app.shared.presentation.http.routing import PrefixedRouter


def _app() -> FastAPI:
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
    app.include_router(orders)
    app.include_router(exports)
    return app


@pytest.fixture
async def client() -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=_app())
    return httpx.AsyncClient(transport=transport, base_url="http://test")


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
