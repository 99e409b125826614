"""A product read by id, anonymous, is answered from the process's memory once kept (the near
cache on, as by default): the same bytes and headers as the route's own answer, counted as a
near hit, no query and no interactor; a write through this instance or another drops it; a
request with credentials, an archived product's 404 and a malformed id run the route."""

from __future__ import annotations

import dataclasses
from typing import Any

import httpx
import pytest

from app.bootstrap.settings import CacheSettings, Settings
from app.catalog.application.queries.get_product import GetProduct
from app.catalog.infrastructure.cache_keys import PRODUCT
from app.catalog.presentation.http import products_router
from tests.integration.catalog_support import PRODUCTS, create_product, metric
from tests.integration.conftest import ClientFactory
from tests.integration.support import Staffing
from tests.support.polling import until


def test_the_route_keeps_answers_under_the_namespace_product_writes_bump() -> None:
    route = next(
        r for r in products_router.router.routes if getattr(r, "cache_kind", None) is not None
    )
    assert route.cache_kind == PRODUCT  # type: ignore[attr-defined]
    assert route.path.endswith("/{product_id}")  # type: ignore[attr-defined]


@pytest.fixture
def near_settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, cache=CacheSettings())  # the default: on


class Interactions:
    """How often the product query's interactor ran."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        real = GetProduct.__call__

        async def counted(interactor: GetProduct, request: Any) -> Any:
            self.calls += 1
            return await real(interactor, request)

        monkeypatch.setattr(GetProduct, "__call__", counted)


async def _near_hits(client: httpx.AsyncClient) -> float:
    return await metric(client, "cache_lookups_total", kind="catalog:product", outcome="near_hit")


async def _kept(client: httpx.AsyncClient, path: str, interactions: Interactions) -> httpx.Response:
    """Read until an answer comes from memory (kept once the listener has subscribed)."""

    async def from_memory() -> httpx.Response | None:
        calls = interactions.calls
        response = await client.get(path)
        assert response.status_code == 200, response.text
        return response if interactions.calls == calls else None

    kept = await until(from_memory, within=10, what="an answer from memory")
    assert kept is not None
    return kept


async def test_an_anonymous_read_is_answered_from_memory_as_the_route_answered(
    make_client: ClientFactory,
    near_settings: Settings,
    team: Staffing,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = await make_client(near_settings)
    product_id = await create_product(client, team.staff.headers, name="Kettle")
    path = f"{PRODUCTS}/{product_id}"
    interactions = Interactions(monkeypatch)
    first = await client.get(path)
    hits = await _near_hits(client)
    kept = await _kept(client, path, interactions)
    assert kept.content == first.content
    dropped = {"x-request-id"}  # each request's own
    assert {k: v for k, v in kept.headers.items() if k not in dropped} == {
        k: v for k, v in first.headers.items() if k not in dropped
    }
    assert kept.headers["x-request-id"] != first.headers["x-request-id"]
    assert await _near_hits(client) >= hits + 1


async def test_a_write_here_or_through_another_instance_drops_the_kept_answer(
    make_client: ClientFactory,
    near_settings: Settings,
    team: Staffing,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    a, b = await make_client(near_settings), await make_client(near_settings)
    staff = team.staff.headers
    product_id = await create_product(a, staff, name="Kettle")
    path = f"{PRODUCTS}/{product_id}"
    interactions = Interactions(monkeypatch)
    await _kept(a, path, interactions)
    await _kept(b, path, interactions)
    response = await a.patch(path, json={"name": "Teapot"}, headers=staff)
    assert response.status_code == 204, response.text
    assert (await a.get(path)).json()["name"] == "Teapot"  # dropped here at once

    async def b_shows_the_write() -> bool:
        return bool((await b.get(path)).json()["name"] == "Teapot")

    await until(b_shows_the_write, within=10, what="the other instance's answer dropped")


async def test_requests_with_credentials_and_answers_other_than_200_run_the_route(
    make_client: ClientFactory,
    near_settings: Settings,
    team: Staffing,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = await make_client(near_settings)
    staff = team.staff.headers
    product_id = await create_product(client, staff, name="Kettle")
    path = f"{PRODUCTS}/{product_id}"
    interactions = Interactions(monkeypatch)
    await _kept(client, path, interactions)
    calls = interactions.calls
    assert (await client.get(path, headers=staff)).status_code == 200
    # Credentials are the route's to weigh (here it asks who calls only for an archived product).
    await client.get(path, headers={"Authorization": "Bearer not-a-token"})
    assert (await client.get(path, headers={"Cookie": "anything=1"})).status_code == 200
    assert interactions.calls == calls + 3
    # An archived product: staff read it, anonymous readers get a 404; neither is kept.
    archived = await client.post(f"{path}/archive", headers=staff)
    assert archived.status_code in (200, 204), archived.text
    for _ in range(3):
        assert (await client.get(path)).status_code == 404
        assert (await client.get(path, headers=staff)).status_code == 200
    assert interactions.calls == calls + 3 + 6
    malformed = await client.get(f"{PRODUCTS}/not-a-uuid")
    assert malformed.status_code == 422
