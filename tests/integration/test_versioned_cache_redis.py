"""VersionedCache on a real Redis, for what test_catalog_cache.py cannot see through the API: the
fill lock expires on its own, entries are stored as compact JSON, a Redis error while waiting
for a peer's fill is counted as a read and the reader loads for itself, a failed lock, store or
unlock is counted as such (and as the cache's Redis errors), the versions remembered per
namespace drop the least recently read first, a hit in a namespace not read here yet costs one
round trip, readers without Redis share a load per entry only, the error series are the cache's
operations, a near cache of under a second answers without Redis and keeps nothing loaded across
a write here, and a bump Redis does not answer in time fails.

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
from tests.support.metrics import label_values

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
    gets = _count_gets(redis, monkeypatch)

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
    near = NearCache(0.5, 16)
    near.heard(60)  # as its invalidation listener does (test_cache_invalidations.py)
    cache = _cache(redis, near=near)

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
    real_pipeline = redis.pipeline

    def slow_pipeline(*args: Any, **kwargs: Any) -> Any:
        pipeline = real_pipeline(*args, **kwargs)
        real_execute = pipeline.execute

        async def slow_execute() -> Any:  # a Redis that answers in 3 s, 30 times too late
            await asyncio.sleep(3)
            return await real_execute()

        pipeline.execute = slow_execute  # type: ignore[method-assign,assignment]
        return pipeline

    monkeypatch.setattr(redis, "pipeline", slow_pipeline)
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
    near = NearCache(30.0, 16)
    near.heard(60)
    cache = _cache(redis, near=near)
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


async def test_the_fill_lock_lasts_two_seconds_unless_told_otherwise(redis: Redis) -> None:
    lock = "{test:things}:v0:k:lock"
    seen: list[int] = []

    async def load() -> str:
        seen.append(await redis.pttl(lock))
        return "value"

    cache = VersionedCache(redis, ttl_seconds=60, operation_timeout=2.0, breaker_seconds=5.0)
    assert await _read(cache, load) == "value"
    assert len(seen) == 1
    assert 1000 < seen[0] <= 2000


async def test_a_hit_in_a_namespace_never_written_costs_one_round_trip_on_a_first_read(
    redis: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A namespace no write has bumped is at version 0: a process reading it for the first
    time guesses that, and the MGET of the version and the entry is the whole read."""

    async def load() -> str:
        return "value"

    assert await _read(_cache(redis), load) == "value"  # another process filled it
    gets = _count_gets(redis, monkeypatch)

    async def unused() -> str:
        raise AssertionError("a hit loads nothing")

    assert await _read(_cache(redis), unused) == "value"
    assert gets == []


def _redis_errors(use: str) -> float:
    return REGISTRY.get_sample_value("redis_errors_total", {"use": use}) or 0.0


async def test_a_failed_read_is_a_redis_error_of_the_cache_and_the_next_a_bypass_of_its_kind(
    redis: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first failure opens the breaker; the read after it does not ask Redis at all."""
    cache = _cache(redis)
    _failing(monkeypatch, redis, "mget")
    errors, bypasses = _redis_errors("cache"), _lookups(KIND, "bypass")

    async def load() -> str:
        return "value"

    assert await _read(cache, load) == "value"
    assert _redis_errors("cache") == errors + 1
    assert not cache.available
    assert await _read(cache, load) == "value"
    assert _lookups(KIND, "bypass") == bypasses + 2
    assert _redis_errors("cache") == errors + 1


@pytest.mark.parametrize("command", ["breaker", "mget", "get"])
async def test_readers_without_redis_share_a_load_per_entry_only(
    redis: Redis, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    """Three entries read at once, two of one kind and two under one key, with the breaker
    open, or when the first read fails (mget) or, after a write elsewhere, the second (get):
    each loads its own value; none waits for another's load."""
    reader = _cache(redis)
    entries = [(KIND, "a"), (KIND, "b"), ("test:others", "a")]

    async def initial() -> str:
        return "initial"

    for kind, key in entries:
        await reader.get_or_load(kind, key, initial, encode=_identity, decode=_identity)
    writer = _cache(redis)
    for kind in {kind for kind, _ in entries}:
        await writer.bump(kind)
    if command == "breaker":  # an earlier failure opened it: none of the three asks Redis
        _failing(monkeypatch, redis, "mget")
        await reader.get_or_load(KIND, "other", initial, encode=_identity, decode=_identity)
        assert not reader.available
    else:
        real = getattr(redis, command)

        async def fail_after_answer(*args: Any, **kwargs: Any) -> Any:
            # Each read has asked Redis (and passed the breaker) before the first one fails.
            await real(*args, **kwargs)
            raise RedisConnectionError(f"{command} failed")

        monkeypatch.setattr(redis, command, fail_after_answer)
    started: set[tuple[str, str]] = set()
    all_started = asyncio.Event()

    async def read(kind: str, key: str) -> str:
        async def load() -> str:
            started.add((kind, key))
            if len(started) == len(entries):
                all_started.set()
            # A load shared with another entry's would wait here for a start that never comes.
            await asyncio.wait_for(all_started.wait(), timeout=10)
            return f"{kind}/{key}"

        return await reader.get_or_load(kind, key, load, encode=_identity, decode=_identity)

    answers = await asyncio.gather(*(read(kind, key) for kind, key in entries))
    assert answers == [f"{kind}/{key}" for kind, key in entries]


async def test_the_cache_error_series_are_its_operations_and_no_other(redis: Redis) -> None:
    """Dashboards select cache_errors_total by operation; the cache makes each from 0."""
    _cache(redis)
    assert label_values("cache_errors", "operation") == {"get", "lock", "set", "unlock", "bump"}


async def test_concurrent_misses_of_different_entries_each_load_their_own(redis: Redis) -> None:
    """Misses are collapsed per entry: readers of two keys at once do not share one load."""
    cache = _cache(redis)
    keys = ["a", "b"]
    started: set[str] = set()
    all_started = asyncio.Event()

    async def read(key: str) -> str:
        async def load() -> str:
            started.add(key)
            if len(started) == len(keys):
                all_started.set()
            # A load shared with the other key's would wait here for a start that never comes.
            await asyncio.wait_for(all_started.wait(), timeout=10)
            return key

        return await cache.get_or_load(KIND, key, load, encode=_identity, decode=_identity)

    assert await asyncio.gather(*(read(key) for key in keys)) == keys


def _count_gets(redis: Redis, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The keys the cache reads with GET from now on (a hit is one MGET and no GET)."""
    gets: list[str] = []
    real_get = redis.get

    async def counting_get(name: str) -> Any:
        gets.append(name)
        return await real_get(name)

    monkeypatch.setattr(redis, "get", counting_get)
    return gets
