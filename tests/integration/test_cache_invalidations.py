"""The near cache's invalidation listener on a real Redis: two caches stand for two processes,
each with its own client, near cache and listener. A write in one drops the other's copy when
its message arrives; a subscription Redis closes (CLIENT KILL), or one that never starts, turns
the near cache off rather than letting it go stale; the channel is the database's own."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from prometheus_client import REGISTRY
from redis.asyncio import ConnectionPool, Redis

from app.shared.infrastructure.cache import NearCache, VersionedCache, invalidations_channel
from app.shared.infrastructure.cache_invalidations import InvalidationListener
from loadtests.faults.proxy import FaultProxy
from tests.conftest import redis_database
from tests.support.polling import until

KIND = "test:invalidated"


class Value:
    """What the database holds: each load returns the current value and counts itself."""

    def __init__(self, value: str) -> None:
        self.value = value
        self.loads = 0

    async def load(self) -> str:
        self.loads += 1
        return self.value


@asynccontextmanager
async def process(
    url: str, name: str = "near-cache-test"
) -> AsyncIterator[tuple[VersionedCache, NearCache]]:
    """A process's cache: its own Redis client, near cache and listener, started and stopped."""
    redis = Redis.from_url(url, decode_responses=True, client_name=name)
    near = NearCache(30.0, 64)
    listener = InvalidationListener(redis, near, timeout=2.0, ping_every=0.1, trust_for=5.0)
    listener.start()
    cache = VersionedCache(
        redis, ttl_seconds=60, operation_timeout=2.0, breaker_seconds=5.0, near=near
    )
    try:
        yield cache, near
    finally:
        await listener.stop()
        await redis.aclose()


def _near_hits() -> float:
    return (
        REGISTRY.get_sample_value("cache_lookups_total", {"kind": KIND, "outcome": "near_hit"})
        or 0.0
    )


async def _read(cache: VersionedCache, load: Callable[[], Awaitable[Any]]) -> Any:
    return await cache.get_or_load(KIND, "k", load, encode=lambda v: v, decode=lambda v: v)


async def test_a_write_in_one_process_drops_the_others_near_copy_when_its_message_arrives(
    redis_url: str,
) -> None:
    product = Value("old")
    async with process(redis_url) as (reader, reader_near), process(redis_url) as (writer, _):
        await until(lambda: reader_near.trusted, within=10, what="the reader's subscription")
        assert await _read(reader, product.load) == "old"
        hits = _near_hits()
        assert await _read(reader, product.load) == "old"
        assert _near_hits() == hits + 1  # answered from memory
        writes = reader_near.writes
        product.value = "new"
        await writer.bump(KIND)
        await until(lambda: reader_near.writes > writes, within=10, what="the invalidation")
        assert await _read(reader, product.load) == "new"
        assert product.loads == 2


async def test_a_subscription_redis_closes_drops_every_copy_and_the_cache_asks_redis_again(
    redis_url: str, redis: Redis
) -> None:
    product = Value("old")
    name = f"near-cache-test-{uuid.uuid4().hex[:8]}"
    async with process(redis_url, name) as (reader, near):
        await until(lambda: near.trusted, within=10, what="the subscription")
        await _read(reader, product.load)
        writes = near.writes
        # Another app's write that this process will never hear of: Redis's version moves.
        await redis.incr(f"{{{KIND}}}:version")
        product.value = "new"
        assert await _read(reader, product.load) == "old"  # the near copy, as it should be
        # This listener's subscription only: other tests' subscribers share the server.
        for client in await redis.client_list(_type="pubsub"):
            if client["name"] == name:
                await redis.client_kill_filter(_id=client["id"])
        # The listener notices the lost connection (or redis-py resubscribes): copies go.
        await until(
            lambda: near.writes > writes and near.trusted, within=10, what="a resubscription"
        )
        assert await _read(reader, product.load) == "new"


async def test_a_partitioned_subscription_turns_the_near_cache_off_and_is_replaced(
    redis_url: str,
) -> None:
    """A connection that stops answering (the proxy holds its bytes, as a partition does) never
    fails by itself: the near cache stops answering once the listener has heard nothing for its
    trust window, and the listener gives the connection up for a new one."""
    parts = urlsplit(redis_url)
    upstream: tuple[str, int] | Path
    if parts.scheme == "unix":
        upstream = Path(parts.path)
    else:
        upstream = (parts.hostname or "127.0.0.1", parts.port or 6379)
    database = redis_database(redis_url)
    with FaultProxy(upstream) as proxy:
        redis = Redis(host="127.0.0.1", port=proxy.port, db=database, decode_responses=True)
        near = NearCache(30.0, 64)
        listener = InvalidationListener(
            redis, near, timeout=0.5, ping_every=0.1, trust_for=0.5, retry_after=0.1
        )
        listener.start()
        try:
            await until(lambda: near.trusted, within=10, what="the subscription")
            accepted = proxy.accepted
            proxy.block()
            await until(lambda: not near.trusted, within=10, what="the near cache turned off")
            await until(lambda: proxy.accepted > accepted, within=10, what="a new connection")
            assert not near.trusted  # held by the partition: nothing heard yet
            proxy.pass_through()
            await until(lambda: near.trusted, within=10, what="trusted again")
        finally:
            await listener.stop()
            await redis.aclose()


async def test_without_a_subscription_the_near_cache_keeps_nothing(redis_url: str) -> None:
    """A listener that cannot subscribe (nothing listens on its port) leaves the near cache
    off: every read asks Redis, which here is another, working client."""
    near = NearCache(30.0, 64)
    listener = InvalidationListener(
        Redis(port=1, socket_connect_timeout=0.2), near, timeout=0.5, retry_after=0.05
    )
    listener.start()
    redis = Redis.from_url(redis_url, decode_responses=True)
    try:
        cache = VersionedCache(
            redis, ttl_seconds=60, operation_timeout=2.0, breaker_seconds=5.0, near=near
        )
        product = Value("value")
        await _read(cache, product.load)
        hits = _near_hits()
        await _read(cache, product.load)
        assert _near_hits() == hits
        assert not near.trusted
    finally:
        await listener.stop()
        await redis.aclose()


async def test_the_channel_is_the_databases_own(redis_url: str) -> None:
    redis = Redis.from_url(redis_url)
    pool = redis.connection_pool
    database = pool.connection_kwargs.get("db", 0)
    other = Redis(
        connection_pool=ConnectionPool(
            connection_class=pool.connection_class,
            **{**pool.connection_kwargs, "db": (database + 1) % 16},
        )
    )
    try:
        assert invalidations_channel(redis) == f"cache:invalidations:{database}"
        assert invalidations_channel(other) == f"cache:invalidations:{(database + 1) % 16}"
    finally:
        await redis.aclose()
        await other.aclose()
