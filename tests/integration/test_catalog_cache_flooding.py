"""Security review, finding 2: anonymous requests flooded Redis through the catalog cache. The
key was built from the raw filter, so 2,000 listings with min_price=0.000001...0.002 made 2,000
entries of ~40 KB, in the Redis that also holds sessions and rate limits. Now filters are
normalised, only listings many visitors share are cached, anonymous listing is rate limited per
address, and the cache may live in a Redis of its own that evicts."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from decimal import Decimal
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
from redis.asyncio import Redis

from app.bootstrap.settings import CacheSettings, Settings
from tests.conftest import build_settings, redis_database
from tests.integration.catalog_support import PRODUCTS, create_product, metric
from tests.integration.conftest import ClientFactory
from tests.integration.support import Staffing, assert_problem

pytestmark = pytest.mark.owasp("API4")

LISTINGS = "{catalog:products}:v*:list:*"


async def _listing_entries(redis: Redis) -> int:
    return len([key async for key in redis.scan_iter(match=LISTINGS, count=1000)])


async def test_distinct_filters_from_anonymous_clients_add_no_cache_entries(
    client: httpx.AsyncClient, team: Staffing, redis: Redis
) -> None:
    await create_product(client, team.staff.headers, price_amount="0.50")
    # The attack as reported, and its variants: prices at any precision, blanks around a search,
    # page sizes, currencies, later pages.
    for index in range(1, 121):
        for params in (
            {"min_price": f"{Decimal(index) / 1_000_000}"},
            {"q": " " * (index % 7) + "mug" + " " * (index // 7)},
            {"limit": str(index % 100 + 1), "currency": f"E{chr(65 + index % 26)}R"},
        ):
            assert (await client.get(PRODUCTS, params=params)).status_code == 200
    assert await _listing_entries(redis) == 0
    assert await metric(client, "cache_lookups_total", outcome="skip") >= 360


async def test_the_listings_everyone_shares_are_still_cached(
    client: httpx.AsyncClient, team: Staffing, redis: Redis
) -> None:
    await create_product(client, team.staff.headers)
    hits = await metric(client, "cache_lookups_total", kind="catalog:products", outcome="hit")
    for params in ({}, {"in_stock": "true", "sort": "-price", "limit": "50"}):
        first = await client.get(PRODUCTS, params=params)
        again = await client.get(PRODUCTS, params=params)
        assert first.json() == again.json()
    assert await _listing_entries(redis) == 2
    after = await metric(client, "cache_lookups_total", kind="catalog:products", outcome="hit")
    assert after == hits + 2


async def test_equivalent_filters_give_the_same_answer(
    client: httpx.AsyncClient, team: Staffing
) -> None:
    await create_product(client, team.staff.headers, sku="CHEAP-1", price_amount="0.01")
    await create_product(client, team.staff.headers, sku="DEAR-1", name="Dear mug")

    async def skus(**params: str) -> list[str]:
        response = await client.get(PRODUCTS, params=params)
        assert response.status_code == 200, response.text
        return [item["sku"] for item in response.json()["items"]]

    assert await skus(q="  dear ") == await skus(q="dear") == ["DEAR-1"]
    # Prices are whole cents: a bound between two cents means the next cent up (or down).
    assert await skus(min_price="0.001") == await skus(min_price="0.01")
    assert await skus(max_price="0.019") == await skus(max_price="0.01") == ["CHEAP-1"]
    assert await skus(currency="eur") == await skus(currency="EUR")


async def test_anonymous_listing_is_rate_limited_per_address(
    make_client: ClientFactory,
    client: httpx.AsyncClient,
    team: Staffing,
    database_url: str,
    redis_url: str,
) -> None:
    limited = await make_client(
        build_settings(
            database_url, redis_url, rate_limits={"list_products_per_address": "3/minute"}
        )
    )
    statuses = [(await limited.get(PRODUCTS, params={"q": f"x{i}"})).status_code for i in range(3)]
    assert statuses == [200, 200, 200]
    assert_problem(await limited.get(PRODUCTS), 429, "rate_limited")
    # Signed-in callers are not counted; a made-up token does not pass for one.
    signed_in = await limited.get(PRODUCTS, headers=team.customer.headers)
    assert signed_in.status_code == 200, signed_in.text
    forged = await limited.get(PRODUCTS, headers={"Authorization": "Bearer made-up"})
    assert forged.status_code == 401


def _other_database(redis_url: str) -> str:
    parts = urlsplit(redis_url)
    index = (redis_database(redis_url) + 1) % 16
    if parts.scheme == "unix":  # the embedded server: unix:///path/redis.sock?db=N
        return urlunsplit(parts._replace(query=f"db={index}"))
    return urlunsplit(parts._replace(path=f"/{index}"))


@pytest.fixture
async def cache_redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(_other_database(redis_url), decode_responses=True)
    await client.flushdb()
    yield client
    await client.flushdb()
    await client.aclose()


async def test_the_cache_can_live_in_a_redis_of_its_own(
    make_client: ClientFactory,
    settings: Settings,
    team: Staffing,
    redis: Redis,
    cache_redis: Redis,
    redis_url: str,
) -> None:
    separate = dataclasses.replace(
        settings, cache=CacheSettings(redis_url=_other_database(redis_url))
    )
    client = await make_client(separate)
    await create_product(client, team.staff.headers, sku="OWN-1")
    assert (await client.get(PRODUCTS)).status_code == 200
    assert await _listing_entries(cache_redis) == 1
    assert await _listing_entries(redis) == 0
    # Sessions and everything else stay on the application's Redis.
    assert [key async for key in redis.scan_iter(match="identity:session:*")]
    assert not [key async for key in cache_redis.scan_iter(match="identity:*")]


def test_a_separate_password_goes_into_the_cache_url() -> None:
    cache = CacheSettings(redis_url="redis://cache:6379/0", redis_password="p@ss/word")
    assert cache.redis_url == "redis://:p%40ss%2Fword@cache:6379/0"
