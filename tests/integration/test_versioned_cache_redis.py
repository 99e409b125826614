"""VersionedCache on a real Redis, for what test_catalog_cache.py cannot see through the API: the
fill lock expires on its own, entries are stored as compact JSON, a Redis error while waiting
for a peer's fill is counted as a read and the reader loads for itself, a failed lock is counted
as such, and the versions remembered per namespace drop the least recently read first.

Faults are one command of the real client made to fail (``_failing``), everything else is
Redis's own answer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from prometheus_client import REGISTRY
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from app.shared.infrastructure import cache as cache_module
from app.shared.infrastructure.cache import VersionedCache

KIND = "test:things"


def _cache(redis: Redis, **overrides: Any) -> VersionedCache:
    options: dict[str, Any] = {
        "ttl_seconds": 60,
        "operation_timeout": 2.0,
        "breaker_seconds": 5.0,
        "lock_seconds": 2.0,
        "wait_for_peer": 0.3,
    } | overrides
    return VersionedCache(redis, **options)


def _identity(value: Any) -> Any:
    return value


async def _read(cache: VersionedCache, load: Callable[[], Awaitable[Any]], kind: str = KIND) -> Any:
    return await cache.get_or_load(kind, "k", load, encode=_identity, decode=_identity)


def _errors(operation: str) -> float:
    return REGISTRY.get_sample_value("cache_errors_total", {"operation": operation}) or 0.0


def _failing(
    monkeypatch: pytest.MonkeyPatch,
    redis: Redis,
    command: str,
    when: Callable[..., bool] = lambda *_, **__: True,
) -> None:
    """Make one command of this client raise, as a broken connection would, when ``when``
    holds for its arguments."""
    real = getattr(redis, command)

    async def fail(*args: Any, **kwargs: Any) -> Any:
        if when(*args, **kwargs):
            raise RedisConnectionError(f"{command} failed")
        return await real(*args, **kwargs)

    monkeypatch.setattr(redis, command, fail)


async def test_the_fill_lock_expires_by_itself_and_is_released_after_the_fill(
    redis: Redis,
) -> None:
    """A process that dies while filling must not keep the others waiting for ever."""
    lock = "{test:things}:v0:k:lock"
    seen: list[int] = []

    async def load() -> str:
        seen.append(await redis.pttl(lock))
        return "value"

    assert await _read(_cache(redis, lock_seconds=2.0), load) == "value"
    assert len(seen) == 1
    assert 0 < seen[0] <= 2000
    assert await redis.exists(lock) == 0


async def test_entries_are_stored_as_compact_json_under_their_version(redis: Redis) -> None:
    async def load() -> dict[str, Any]:
        return {"name": "mug", "tags": ["a", "b"]}

    await _read(_cache(redis), load)
    assert await redis.get("{test:things}:v0:k") == '{"name":"mug","tags":["a","b"]}'
    assert 0 < await redis.ttl("{test:things}:v0:k") <= 60


async def test_a_redis_error_while_waiting_for_a_peers_fill_counts_as_a_read_and_loads(
    redis: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    await redis.set("{test:things}:v0:k:lock", "1", px=10_000)  # a peer is filling the entry
    cache = _cache(redis)
    _failing(monkeypatch, redis, "get")
    before = _errors("get")

    async def load() -> str:
        return "loaded here"

    assert await _read(cache, load) == "loaded here"
    assert _errors("get") == before + 1


async def test_a_failed_lock_is_counted_as_one_and_the_read_still_loads(
    redis: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = _cache(redis)
    _failing(monkeypatch, redis, "set", when=lambda *_, **options: bool(options.get("nx")))
    before = _errors("lock")

    async def load() -> str:
        return "loaded"

    assert await _read(cache, load) == "loaded"
    assert _errors("lock") == before + 1


async def test_the_versions_remembered_drop_the_least_recently_read_namespace_first(
    redis: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A remembered version saves the second round trip of a hit after a bump elsewhere: with
    room for two, reading a third forgets the oldest, not the one just read."""
    monkeypatch.setattr(cache_module, "_SEEN_NAMESPACES", 2)
    reader, writer = _cache(redis), _cache(redis)
    kinds = ["test:a", "test:b", "test:c"]
    for kind in kinds:
        await writer.bump(kind)  # each at version 1, which the reader has not seen yet

        async def load(kind: str = kind) -> str:
            return kind

        assert await _read(reader, load, kind) == kind
    gets: list[str] = []
    real_get = redis.get

    async def counting_get(name: str) -> Any:
        gets.append(name)
        return await real_get(name)

    monkeypatch.setattr(redis, "get", counting_get)

    async def unused() -> str:
        raise AssertionError("a hit loads nothing")

    assert await _read(reader, unused, "test:c") == "test:c"
    assert await _read(reader, unused, "test:b") == "test:b"
    assert gets == []  # both remembered: one MGET each
    assert await _read(reader, unused, "test:a") == "test:a"
    assert gets == ["{test:a}:v1:k"]  # forgotten: guessed v0, read again at v1
