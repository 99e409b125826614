"""VersionedCache on a real Redis, for what test_catalog_cache.py cannot see through the API: the
fill lock expires on its own, entries are stored as compact JSON, a Redis error while waiting
for a peer's fill is counted as a read and the reader loads for itself, a failed lock, store or
unlock is counted as such, the versions remembered per namespace drop the least recently read
first, a near cache of under a second answers without Redis and keeps nothing loaded across a
write here, and a bump Redis does not answer in time fails.

Faults are one command of the real client made to fail (``_failing``), everything else is
Redis's own answer."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from prometheus_client import REGISTRY
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from app.shared.infrastructure import cache as cache_module
from app.shared.infrastructure.cache import NearCache, VersionedCache

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


@pytest.mark.parametrize(
    ("command", "operation"),
    [("set", "set"), ("delete", "unlock")],
    ids=["storing-the-entry", "releasing-the-lock"],
)
async def test_a_failed_store_or_unlock_after_a_load_is_counted_as_such_and_answers(
    redis: Redis, monkeypatch: pytest.MonkeyPatch, command: str, operation: str
) -> None:
    cache = _cache(redis)
    # The lock's SET NX goes through; the entry's SET (or the lock's DEL) fails.
    _failing(monkeypatch, redis, command, when=lambda *_, **options: not options.get("nx"))
    before = _errors(operation)

    async def load() -> str:
        return "loaded"

    assert await _read(cache, load) == "loaded"
    assert _errors(operation) == before + 1


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


async def test_a_near_cache_of_under_a_second_answers_without_redis(
    redis: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = _cache(redis, near=NearCache(0.5, 16))

    async def load() -> str:
        return "value"

    assert await _read(cache, load) == "value"  # filled here, kept near for half a second
    asked: list[str] = []
    real_mget = redis.mget

    async def counting_mget(*names: str) -> Any:
        asked.extend(names)
        return await real_mget(*names)

    monkeypatch.setattr(redis, "mget", counting_mget)
    assert await _read(cache, load) == "value"
    assert asked == []


async def test_a_bump_that_redis_does_not_answer_in_time_fails_and_is_counted(
    redis: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write's invalidation waits the operation timeout at most, then raises (the unit of
    work logs it) and bypasses the cache, as a Redis error does."""
    cache = _cache(redis, operation_timeout=0.1)
    real_incr = redis.incr

    async def slow_incr(name: str) -> Any:  # a Redis that answers in 3 s, 30 times too late
        await asyncio.sleep(3)
        return await real_incr(name)

    monkeypatch.setattr(redis, "incr", slow_incr)
    before = _errors("bump")
    with pytest.raises(TimeoutError):
        await cache.bump(KIND)
    assert _errors("bump") == before + 1
    assert not cache.available


async def test_a_load_that_began_before_a_second_write_here_is_not_kept_near(
    redis: Redis,
) -> None:
    """Each write here tells the near cache, however many came before: a value loaded across
    this process's second write is not answered from memory afterwards."""
    cache = _cache(redis, near=NearCache(30.0, 16))
    await cache.bump(KIND)  # a first write, before the read
    started, release = asyncio.Event(), asyncio.Event()

    async def slow_load() -> str:
        started.set()
        await release.wait()
        return "old"

    reading = asyncio.create_task(_read(cache, slow_load))
    await started.wait()
    await cache.bump(KIND)  # the second write, during the load
    release.set()
    assert await reading == "old"

    async def load_new() -> str:
        return "new"

    assert await _read(cache, load_new) == "new"


def _lookups(kind: str, outcome: str) -> float:
    return REGISTRY.get_sample_value("cache_lookups_total", {"kind": kind, "outcome": outcome}) or 0


async def test_a_failed_read_of_a_new_version_counts_as_a_read_and_loads_without_the_cache(
    redis: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a write elsewhere the entry is read a second time, under the new version; if that
    read fails, the reader loads from the database, counted as a bypass of its kind."""
    reader = _cache(redis)

    async def old() -> str:
        return "old"

    assert await _read(reader, old) == "old"
    await _cache(redis).bump(KIND)  # another process's write: the version moves to 1
    _failing(monkeypatch, redis, "get")
    errors, bypasses = _errors("get"), _lookups(KIND, "bypass")

    async def new() -> str:
        return "new"

    assert await _read(reader, new) == "new"
    assert _errors("get") == errors + 1
    assert _lookups(KIND, "bypass") == bypasses + 1
