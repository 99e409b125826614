"""The catalog read cache: really used, never stale after a write (across app instances sharing
Redis and PostgreSQL), harmless when Redis is down, and one load per entry under a stampede."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import httpx
import pytest
from structlog.testing import CapturingLogger

from app.bootstrap.settings import CacheSettings, Settings
from app.catalog.application.ports.product_reader import ProductView
from app.catalog.domain.value_objects import ProductId
from app.catalog.infrastructure.sqla_product_reader import SqlaProductReader
from app.shared.infrastructure import cache as cache_module
from tests.integration.catalog_support import (
    PRODUCTS,
    create_product,
    get_product,
    list_all,
    metric,
    with_dead_redis,
)
from tests.integration.conftest import ClientFactory
from tests.integration.support import Staffing, assert_problem
from tests.support.polling import until
from tests.support.ports import dead_port
from tests.support.sql import sql_execute

# Single-product reads are cached per product, under the "catalog:product" kind.
HITS = {"kind": "catalog:product", "outcome": "hit"}
MISSES = {"kind": "catalog:product", "outcome": "miss"}


async def _by_sku(client: httpx.AsyncClient, sku: str) -> dict[str, Any]:
    response = await client.get(f"{PRODUCTS}/by-sku/{sku}")
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_reads_are_served_from_the_cache(client: httpx.AsyncClient, team: Staffing) -> None:
    product_id = await create_product(client, team.staff.headers)
    await get_product(client, product_id)  # fills the entry
    hits, misses = (
        await metric(client, "cache_lookups_total", **HITS),
        await metric(client, "cache_lookups_total", **MISSES),
    )
    for _ in range(3):
        await get_product(client, product_id)
    assert await metric(client, "cache_lookups_total", **HITS) == hits + 3
    assert await metric(client, "cache_lookups_total", **MISSES) == misses


async def test_a_listing_not_worth_caching_is_read_fresh_and_counted_as_a_skip(
    client: httpx.AsyncClient, team: Staffing
) -> None:
    await create_product(client, team.staff.headers, name="Mug")
    skips = await metric(client, "cache_lookups_total", kind="catalog:products", outcome="skip")
    for _ in range(2):
        found = await client.get(PRODUCTS, params={"q": "Mug"})  # a search: not cached
        assert [item["name"] for item in found.json()["items"]] == ["Mug"]
    assert (
        await metric(client, "cache_lookups_total", kind="catalog:products", outcome="skip")
        == skips + 2
    )


async def test_a_change_behind_the_apis_back_stays_hidden_until_an_api_write_bumps_the_version(
    client: httpx.AsyncClient, team: Staffing, database_url: str
) -> None:
    product_id = await create_product(client, team.staff.headers, name="Mug", stock_on_hand=1)
    assert (await get_product(client, product_id))["name"] == "Mug"
    assert (await _by_sku(client, "MUG-001"))["name"] == "Mug"
    assert (await client.get(PRODUCTS)).json()["items"][0]["name"] == "Mug"  # a cached listing
    result = await sql_execute(
        database_url, "UPDATE products SET name = 'Sneaky mug' WHERE id = $1::uuid", product_id
    )
    assert result == "UPDATE 1"
    # Served from the cache: the database change is invisible.
    assert (await get_product(client, product_id))["name"] == "Mug"
    assert (await _by_sku(client, "MUG-001"))["name"] == "Mug"
    assert (await client.get(PRODUCTS)).json()["items"][0]["name"] == "Mug"
    # Any product write invalidates every product read.
    restocked = await client.post(
        f"{PRODUCTS}/{product_id}/stock/restock",
        json={"quantity": 2, "reason": "Delivery"},
        headers=team.staff.headers,
    )
    assert restocked.status_code == 200, restocked.text
    product = await get_product(client, product_id)
    assert (product["name"], product["stock_on_hand"]) == ("Sneaky mug", 3)
    assert (await _by_sku(client, "MUG-001"))["name"] == "Sneaky mug"
    listed = (await client.get(PRODUCTS)).json()["items"]
    assert [item["name"] for item in listed] == ["Sneaky mug"]


async def test_writes_are_read_back_at_once_across_two_instances(
    make_client: ClientFactory, settings: Settings, team: Staffing
) -> None:
    a, b = await make_client(settings), await make_client(settings)
    staff = team.staff.headers
    product_id = await create_product(a, staff, sku="mug-001", name="Mug 0", stock_on_hand=0)
    other_id = await create_product(a, staff, sku="pot-001", name="Pot", price_amount="50.00")
    stock = 0
    for round_ in range(1, 21):
        writer, reader = (a, b) if round_ % 2 else (b, a)
        # Warm every cached read on both instances, so a stale entry would be served.
        for client in (a, b):
            await get_product(client, product_id)
            await _by_sku(client, "MUG-001")
            await list_all(client, {"sort": "price", "limit": 1})
        price = f"{round_}.{round_:02d}"
        name = f"Mug {round_}"
        stock += round_
        for method, suffix, body in (
            ("PUT", "/price", {"amount": price, "currency": "EUR"}),
            ("PATCH", "", {"name": name, "description": f"Round {round_}"}),
            ("POST", "/stock/restock", {"quantity": round_, "reason": f"Delivery {round_}"}),
        ):
            response = await writer.request(
                method, f"{PRODUCTS}/{product_id}{suffix}", json=body, headers=staff
            )
            assert response.status_code in {200, 204}, response.text
        for client in (reader, writer):
            for product in (
                await get_product(client, product_id),
                await _by_sku(client, "mug-001"),
            ):
                assert product["price_amount"] == price, (round_, product)
                assert product["name"] == name, (round_, product)
                assert product["description"] == f"Round {round_}"
                assert product["stock_on_hand"] == stock
                assert product["in_stock"] is True
                assert product["version"] == 1 + 3 * round_
            listed = await list_all(client, {"sort": "price", "limit": 1})
            assert [item["id"] for item in listed] == [product_id, other_id]
            assert listed[0]["price_amount"] == price
            assert listed[0]["name"] == name
            found = (await client.get(PRODUCTS, params={"q": name})).json()["items"]
            assert [item["id"] for item in found] == [product_id]


async def test_archive_create_and_stock_changes_show_on_the_other_instance(
    make_client: ClientFactory, settings: Settings, team: Staffing
) -> None:
    a, b = await make_client(settings), await make_client(settings)
    staff = team.staff.headers
    product_id = await create_product(a, staff, stock_on_hand=1)
    for _ in range(3):
        assert (await b.get(f"{PRODUCTS}/{product_id}")).status_code == 200
        assert len((await b.get(PRODUCTS)).json()["items"]) == 1
        assert (await b.get(PRODUCTS, params={"in_stock": "true"})).json()["items"]
        assert (await a.post(f"{PRODUCTS}/{product_id}/archive", headers=staff)).status_code == 204
        assert_problem(await b.get(f"{PRODUCTS}/{product_id}"), 404, "product_not_found")
        assert_problem(await b.get(f"{PRODUCTS}/by-sku/MUG-001"), 404, "product_not_found")
        assert (await b.get(PRODUCTS)).json()["items"] == []
        archived = await b.get(PRODUCTS, params={"status": "archived"}, headers=staff)
        assert [item["id"] for item in archived.json()["items"]] == [product_id]
        assert (
            await a.post(f"{PRODUCTS}/{product_id}/reactivate", headers=staff)
        ).status_code == 204
        assert (await b.get(f"{PRODUCTS}/{product_id}")).status_code == 200
    # Stock to zero on B: A's "in stock" page drops it at once.
    adjusted = await b.post(
        f"{PRODUCTS}/{product_id}/stock/adjustments",
        json={"delta": -1, "reason": "Sold out"},
        headers=staff,
    )
    assert adjusted.status_code == 200, adjusted.text
    assert (await a.get(PRODUCTS, params={"in_stock": "true"})).json()["items"] == []
    assert (await a.get(f"{PRODUCTS}/{product_id}")).json()["in_stock"] is False
    # A new product appears on a listing page the other instance had cached.
    assert_problem(await b.get(f"{PRODUCTS}/by-sku/NEW-1"), 404, "product_not_found")
    new_id = await create_product(a, staff, sku="new-1", name="New")
    assert [item["id"] for item in (await b.get(PRODUCTS)).json()["items"]] == [new_id, product_id]
    assert (await _by_sku(b, "NEW-1"))["id"] == new_id


async def test_a_failed_write_does_not_disturb_the_cache(
    client: httpx.AsyncClient, team: Staffing
) -> None:
    product_id = await create_product(client, team.staff.headers, stock_on_hand=1)
    await get_product(client, product_id)
    response = await client.post(
        f"{PRODUCTS}/{product_id}/stock/adjustments",
        json={"delta": -2, "reason": "Damaged"},
        headers=team.staff.headers,
    )
    assert response.status_code == 409
    hits = await metric(client, "cache_lookups_total", **HITS)
    assert (await get_product(client, product_id))["stock_on_hand"] == 1
    assert await metric(client, "cache_lookups_total", **HITS) == hits + 1


# --- Redis down -------------------------------------------------------------------------------


async def test_reads_fall_back_to_postgres_when_redis_is_down(
    make_client: ClientFactory, settings: Settings, client: httpx.AsyncClient, team: Staffing
) -> None:
    product_id = await create_product(client, team.staff.headers, sku="mug-001", name="Mug")
    await create_product(client, team.staff.headers, sku="pot-001", name="Pot", stock_on_hand=0)
    dead = await make_client(with_dead_redis(settings))
    errors = await metric(dead, "cache_errors_total")
    for _ in range(2):
        by_id = await dead.get(f"{PRODUCTS}/{product_id}")
        assert by_id.status_code == 200, by_id.text
        assert (by_id.json()["name"], by_id.json()["price_amount"]) == ("Mug", "12.50")
        by_sku = await dead.get(f"{PRODUCTS}/by-sku/MUG-001")
        assert by_sku.status_code == 200, by_sku.text
        assert by_sku.json()["id"] == product_id
        listed = await dead.get(PRODUCTS)
        assert listed.status_code == 200, listed.text
        assert [item["name"] for item in listed.json()["items"]] == ["Mug", "Pot"]
        filtered = await dead.get(PRODUCTS, params={"in_stock": "true", "limit": 1})
        assert [item["name"] for item in filtered.json()["items"]] == ["Mug"]
        assert_problem(await dead.get(f"{PRODUCTS}/by-sku/NOPE-1"), 404, "product_not_found")
    assert await metric(dead, "cache_errors_total") > errors
    # What the healthy instance wrote meanwhile is read fresh by the degraded one.
    changed = await client.put(
        f"{PRODUCTS}/{product_id}/price",
        json={"amount": "13.00", "currency": "EUR"},
        headers=team.staff.headers,
    )
    assert changed.status_code == 204
    assert (await dead.get(f"{PRODUCTS}/{product_id}")).json()["price_amount"] == "13.00"


async def test_with_redis_down_concurrent_reads_of_different_products_get_each_its_own(
    make_client: ClientFactory, settings: Settings, client: httpx.AsyncClient, team: Staffing
) -> None:
    """Without Redis, concurrent reads share one load per entry (the single flight), never one
    load for different entries."""
    ids = [
        await create_product(client, team.staff.headers, sku=f"mug-{n:03d}", name=f"Mug {n}")
        for n in range(5)
    ]
    dead = await make_client(with_dead_redis(settings))
    assert (await dead.get(f"{PRODUCTS}/{ids[0]}")).status_code == 200  # opens the breaker
    responses = await asyncio.gather(*(dead.get(f"{PRODUCTS}/{id_}") for id_ in ids))
    assert [response.json()["id"] for response in responses] == ids


async def test_an_outage_of_the_cache_is_logged_once_with_how_long_it_is_bypassed(
    make_client: ClientFactory,
    settings: Settings,
    client: httpx.AsyncClient,
    team: Staffing,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A failed read bypasses the cache for the breaker's seconds, logged once, not once per
    request; a failed bump (a write's invalidation: one per namespace it touches) for the
    entries' TTL, since older entries may outlive the write (docs/12-redis.md)."""
    dead_cache = CacheSettings(redis_url=f"redis://127.0.0.1:{dead_port()}/0", ttl_seconds=120)
    app = await make_client(dataclasses.replace(settings, cache=dead_cache))
    product_id = await create_product(client, team.staff.headers)  # an instance with its cache
    logged = CapturingLogger()
    monkeypatch.setattr(cache_module, "_log", logged)
    for _ in range(2):
        assert (await get_product(app, product_id))["id"] == product_id
    changed = await app.put(
        f"{PRODUCTS}/{product_id}/price",
        json={"amount": "13.00", "currency": "EUR"},
        headers=team.staff.headers,
    )
    assert changed.status_code == 204, changed.text
    first, *bumps = [(call.method_name, call.args, call.kwargs) for call in logged.calls]
    assert first == ("warning", ("cache_unavailable",), {"operation": "get", "bypass_seconds": 5.0})
    bump = ("warning", ("cache_unavailable",), {"operation": "bump", "bypass_seconds": 120})
    assert bumps
    assert all(logged == bump for logged in bumps), bumps


# --- stampede ---------------------------------------------------------------------------------


class _CountingReader:
    """Spies on SqlaProductReader.get: counts database loads and makes each one slow."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, delay: float = 0.1) -> None:
        self.calls = 0
        original = SqlaProductReader.get

        async def get(reader: SqlaProductReader, product_id: ProductId) -> ProductView | None:
            self.calls += 1
            await asyncio.sleep(delay)
            return await original(reader, product_id)

        monkeypatch.setattr(SqlaProductReader, "get", get)


def _patient(settings: Settings) -> Settings:
    """Settings whose cache waits up to 2 s for Redis (the default is 0.25 s).

    A burst of 50 requests on a cold app opens 50 Redis connections at once; with the default
    operation timeout some of those commands can take longer, which trips the cache's breaker
    and sends the rest of the burst to PostgreSQL. These tests are about the single flight and
    the lock, so they give Redis time to answer.
    """
    return dataclasses.replace(settings, cache=CacheSettings(operation_timeout=2.0))


async def _burst(
    clients: list[httpx.AsyncClient], url: str, loads: _CountingReader, count: int = 50
) -> tuple[list[httpx.Response], dict[str, float]]:
    errors = await metric(clients[0], "cache_errors_total")
    bypasses = await metric(clients[0], "cache_lookups_total", outcome="bypass")
    responses = await asyncio.gather(
        *(clients[index % len(clients)].get(url) for index in range(count))
    )
    diagnosis = {
        "loads": loads.calls,
        "cache_errors": await metric(clients[0], "cache_errors_total") - errors,
        "bypasses": await metric(clients[0], "cache_lookups_total", outcome="bypass") - bypasses,
    }
    assert [response.status_code for response in responses] == [200] * count, diagnosis
    return list(responses), diagnosis


async def test_concurrent_misses_load_the_product_once(
    make_client: ClientFactory,
    settings: Settings,
    team: Staffing,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = await make_client(_patient(settings))
    product_id = await create_product(app, team.staff.headers)
    loads = _CountingReader(monkeypatch)
    responses, diagnosis = await _burst([app], f"{PRODUCTS}/{product_id}", loads)
    assert len({response.text for response in responses}) == 1
    assert loads.calls <= 3, diagnosis
    await get_product(app, product_id)
    assert loads.calls == diagnosis["loads"]  # and then it is cached


async def test_concurrent_misses_on_two_instances_load_the_product_about_once(
    make_client: ClientFactory,
    settings: Settings,
    team: Staffing,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    a, b = await make_client(_patient(settings)), await make_client(_patient(settings))
    product_id = await create_product(a, team.staff.headers)
    loads = _CountingReader(monkeypatch)
    responses, diagnosis = await _burst([a, b], f"{PRODUCTS}/{product_id}", loads)
    assert len({response.text for response in responses}) == 1
    assert loads.calls <= 3, diagnosis


async def test_after_a_write_concurrent_readers_reload_once_and_see_the_new_data(
    make_client: ClientFactory,
    settings: Settings,
    team: Staffing,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = await make_client(_patient(settings))
    product_id = await create_product(app, team.staff.headers)
    await get_product(app, product_id)
    changed = await app.put(
        f"{PRODUCTS}/{product_id}/price",
        json={"amount": "99.99", "currency": "EUR"},
        headers=team.staff.headers,
    )
    assert changed.status_code == 204
    loads = _CountingReader(monkeypatch)
    responses, diagnosis = await _burst([app], f"{PRODUCTS}/{product_id}", loads)
    assert {response.json()["price_amount"] for response in responses} == {"99.99"}
    assert loads.calls <= 3, diagnosis


async def test_with_the_near_cache_a_write_through_one_instance_reaches_the_others_copy(
    make_client: ClientFactory, settings: Settings, team: Staffing
) -> None:
    near = dataclasses.replace(settings, cache=CacheSettings())  # the default: on, 5 s
    assert near.cache.local_seconds > 0
    a, b = await make_client(near), await make_client(near)
    staff = team.staff.headers
    product_id = await create_product(a, staff, name="Kettle")
    await get_product(a, product_id)

    async def b_answers_from_memory() -> bool:
        # Kept once its listener has subscribed (a moment after the instance's first read).
        hits = await metric(b, "cache_lookups_total", kind="catalog:product", outcome="near_hit")
        assert (await get_product(b, product_id))["name"] == "Kettle"
        return (
            await metric(b, "cache_lookups_total", kind="catalog:product", outcome="near_hit")
            == hits + 1
        )

    await until(b_answers_from_memory, within=10, what="a near hit in the other instance")
    response = await a.patch(f"{PRODUCTS}/{product_id}", json={"name": "Teapot"}, headers=staff)
    assert response.status_code == 204, response.text
    assert (await get_product(a, product_id))["name"] == "Teapot"  # this process dropped its copy

    async def b_reads_the_write() -> bool:
        return bool((await get_product(b, product_id))["name"] == "Teapot")

    # The other drops its copy when the write's message arrives (at once, in separate processes;
    # here both share one event loop, so it may take the loop's next poll).
    await until(b_reads_the_write, within=10, what="the other instance's copy dropped")
