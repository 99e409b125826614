"""VersionedCache against a tiny in-memory Redis: versioned keys, single flight, peer lock,
failure handling and the breaker."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from types import SimpleNamespace
from typing import Any

import pytest
from prometheus_client import REGISTRY
from redis.exceptions import ConnectionError as RedisConnectionError

from app.shared.infrastructure import cache as cache_module
from app.shared.infrastructure.cache import NearCache, VersionedCache
from tests.support.polling import until

NS = "test:things"


class FakeRedis:
    """The handful of commands the cache uses, with decode_responses=True semantics."""

    connection_pool = SimpleNamespace(connection_kwargs={"db": 3})

    def __init__(self) -> None:
        self.data: dict[str, str] = {}
        self.expiries: dict[str, float] = {}
        self.calls: list[tuple[str, str]] = []
        self.fail: set[str] = set()  # command names that raise
        self.delay: dict[str, float] = {}  # command name -> seconds
        self.published: list[tuple[str, str]] = []

    async def _enter(self, command: str, key: str) -> None:
        self.calls.append((command, key))
        if command in self.delay:
            await asyncio.sleep(self.delay[command])
        if command in self.fail:
            raise RedisConnectionError(f"fake: {command} failed")

    async def get(self, key: str) -> str | None:
        await self._enter("get", key)
        return self.data.get(key)

    async def mget(self, *keys: str) -> list[str | None]:
        await self._enter("mget", ",".join(keys))
        return [self.data.get(key) for key in keys]

    async def set(
        self,
        key: str,
        value: str,
        *,
        ex: int | None = None,
        px: int | None = None,
        nx: bool = False,
    ) -> bool | None:
        await self._enter("set", key)
        if nx and key in self.data:
            return None
        self.data[key] = value
        if ex is not None:
            self.expiries[key] = ex
        if px is not None:
            self.expiries[key] = px / 1000
        return True

    async def incr(self, key: str) -> int:
        await self._enter("incr", key)
        value = int(self.data.get(key, "0")) + 1
        self.data[key] = str(value)
        return value

    async def delete(self, *keys: str) -> int:
        await self._enter("delete", ",".join(keys))
        return sum(1 for key in keys if self.data.pop(key, None) is not None)

    async def publish(self, channel: str, message: str) -> int:
        await self._enter("publish", channel)
        self.published.append((channel, message))
        return 0

    def pipeline(self) -> FakePipeline:
        return FakePipeline(self)


class FakePipeline:
    """MULTI/EXEC: the queued commands run at execute(), in order."""

    def __init__(self, redis: FakeRedis) -> None:
        self._redis = redis
        self._queued: list[Awaitable[Any]] = []

    async def __aenter__(self) -> FakePipeline:
        return self

    async def __aexit__(self, *_: object) -> None:
        for command in self._queued:  # never awaited: closed, as redis-py's reset() drops them
            command.close()  # type: ignore[attr-defined]

    def incr(self, key: str) -> FakePipeline:
        self._queued.append(self._redis.incr(key))
        return self

    def publish(self, channel: str, message: str) -> FakePipeline:
        self._queued.append(self._redis.publish(channel, message))
        return self

    async def execute(self) -> list[Any]:
        results = []
        while self._queued:  # a failed command leaves the rest queued, for __aexit__ to close
            results.append(await self._queued.pop(0))
        return results


class Loader:
    """A load function that counts its calls and can be slowed down or made to fail."""

    def __init__(self, value: Any = "fresh", *, delay: float = 0.0) -> None:
        self.value = value
        self.delay = delay
        self.calls = 0
        self.error: Exception | None = None

    async def __call__(self) -> Any:
        self.calls += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.error is not None:
            raise self.error
        return self.value


class MovableTime:
    """The cache module's ``time``, moved by the test: a breaker window passes without waiting
    (the cache reads time.monotonic itself; it takes no clock)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def monotonic(self) -> float:
        return time.monotonic() + self.offset


@pytest.fixture
def moved_time(monkeypatch: pytest.MonkeyPatch) -> MovableTime:
    moved = MovableTime()
    monkeypatch.setattr(cache_module, "time", moved)
    return moved


def make_cache(redis: FakeRedis, **overrides: Any) -> VersionedCache:
    options: dict[str, Any] = {
        "ttl_seconds": 60,
        "operation_timeout": 0.2,
        "breaker_seconds": 5.0,
        "lock_seconds": 2.0,
        "wait_for_peer": 0.3,
    } | overrides
    return VersionedCache(redis, **options)  # type: ignore[arg-type]


def identity(value: Any) -> Any:
    return value


async def read(
    cache: VersionedCache, load: Callable[[], Awaitable[Any]], key: str = "k", ns: str = NS
) -> Any:
    return await cache.get_or_load(ns, key, load, encode=identity, decode=identity)


def lookups(outcome: str, ns: str = NS) -> float:
    return REGISTRY.get_sample_value("cache_lookups_total", {"kind": ns, "outcome": outcome}) or 0.0


def errors(operation: str) -> float:
    return REGISTRY.get_sample_value("cache_errors_total", {"operation": operation}) or 0.0


async def test_a_miss_loads_and_stores_under_the_current_version_then_hits() -> None:
    redis, load = FakeRedis(), Loader({"name": "mug", "price": "1.50"})
    cache = make_cache(redis)
    hits, misses = lookups("hit"), lookups("miss")
    assert await read(cache, load) == {"name": "mug", "price": "1.50"}
    assert await read(cache, load) == {"name": "mug", "price": "1.50"}
    assert load.calls == 1
    key = "{test:things}:v0:k"
    assert json.loads(redis.data[key]) == {"name": "mug", "price": "1.50"}
    assert redis.expiries[key] == 60
    assert "{test:things}:v0:k:lock" not in redis.data  # released after the fill
    assert lookups("hit") == hits + 1
    assert lookups("miss") == misses + 1


async def test_bump_invalidates_every_entry_of_the_namespace_only() -> None:
    redis = FakeRedis()
    cache = make_cache(redis)
    first, other = Loader("one"), Loader("other")
    await read(cache, first, "a")
    await read(cache, first, "b")
    await read(cache, other, "a", ns="test:others")
    await cache.bump(NS)
    assert redis.data["{test:things}:version"] == "1"
    first.value = "two"
    assert await read(cache, first, "a") == "two"
    assert await read(cache, first, "b") == "two"
    assert first.calls == 4
    assert "{test:things}:v1:a" in redis.data
    assert "{test:things}:v0:a" in redis.data  # nothing deleted: old versions just expire
    other.value = "changed"
    assert await read(cache, other, "a", ns="test:others") == "other"  # not bumped
    assert other.calls == 1


async def test_encode_and_decode_wrap_the_stored_json() -> None:
    redis = FakeRedis()
    cache = make_cache(redis)
    load = Loader(5)
    for _ in range(2):
        value = await cache.get_or_load(
            NS,
            "n",
            load,
            encode=lambda number: {"n": number},
            decode=lambda data: data["n"] * 10,
        )
    assert json.loads(redis.data["{test:things}:v0:n"]) == {"n": 5}
    assert value == 50  # the second read is decoded from the cache
    assert load.calls == 1


async def test_none_is_not_cached() -> None:
    redis, load = FakeRedis(), Loader(None)
    cache = make_cache(redis)
    assert await read(cache, load) is None
    assert await read(cache, load) is None
    assert load.calls == 2
    assert not any(key.endswith(":k") for key in redis.data)


async def test_a_write_committed_during_a_load_cannot_leave_old_data_under_the_new_version() -> (
    None
):
    redis = FakeRedis()
    cache = make_cache(redis)
    state = {"value": "old"}

    async def load_while_a_write_commits() -> str:
        seen = state["value"]  # the reader queries the database...
        state["value"] = "new"  # ...a writer commits...
        await cache.bump(NS)  # ...and bumps the version
        return seen

    assert await read(cache, load_while_a_write_commits) == "old"
    fresh = Loader()
    fresh.value = state["value"]
    assert await read(cache, fresh) == "new"  # the old value sits under v0, not v1
    assert fresh.calls == 1


async def test_concurrent_misses_in_one_process_load_once() -> None:
    redis, load = FakeRedis(), Loader("value", delay=0.05)
    cache = make_cache(redis)
    results = await asyncio.gather(*(read(cache, load) for _ in range(50)))
    assert results == ["value"] * 50
    assert load.calls == 1


async def test_a_failed_load_reaches_every_waiter_and_the_next_read_retries() -> None:
    redis, load = FakeRedis(), Loader("value", delay=0.05)
    load.error = RuntimeError("database down")
    cache = make_cache(redis)
    results = await asyncio.gather(*(read(cache, load) for _ in range(5)), return_exceptions=True)
    assert all(isinstance(result, RuntimeError) for result in results), results
    assert load.calls == 1
    load.error = None
    assert await read(cache, load) == "value"
    assert load.calls == 2


async def test_a_peer_holding_the_lock_is_waited_for_and_its_value_used() -> None:
    redis = FakeRedis()
    cache = make_cache(redis, wait_for_peer=60.0)
    redis.data["{test:things}:v0:k:lock"] = "1"  # another process is loading this entry

    async def peer_finishes() -> None:
        # Once the reader has found the lock taken and looked for the entry again, it waits.
        await until(lambda: redis.calls[-1] == ("get", "{test:things}:v0:k"), every=0.001)
        redis.data["{test:things}:v0:k"] = json.dumps("from peer")

    load = Loader("mine")
    peer = asyncio.create_task(peer_finishes())
    assert await read(cache, load) == "from peer"
    await peer
    assert load.calls == 0
    assert redis.data["{test:things}:v0:k:lock"] == "1"  # not ours to release


async def test_a_slow_peer_is_not_waited_for_long() -> None:
    redis = FakeRedis()
    cache = make_cache(redis, wait_for_peer=0.1)
    redis.data["{test:things}:v0:k:lock"] = "1"  # the peer never finishes
    load = Loader("mine")
    started = time.monotonic()
    assert await read(cache, load) == "mine"
    assert time.monotonic() - started < 1.0
    assert load.calls == 1
    assert redis.data["{test:things}:v0:k:lock"] == "1"


@pytest.mark.parametrize("command", ["mget", "set"])
async def test_redis_errors_fall_back_to_the_loader_and_open_the_breaker(
    command: str, moved_time: MovableTime
) -> None:
    redis = FakeRedis()
    cache = make_cache(redis, breaker_seconds=5.0)
    load = Loader("from db")
    redis.fail.add(command)
    before = sum(errors(op) for op in ("version", "get", "set", "lock"))
    assert await read(cache, load) == "from db"
    assert sum(errors(op) for op in ("version", "get", "set", "lock")) > before
    assert not cache.available
    calls = len(redis.calls)
    bypass = lookups("bypass")
    assert await read(cache, load) == "from db"
    assert len(redis.calls) == calls  # the breaker keeps requests off Redis
    assert lookups("bypass") == bypass + 1
    redis.fail.clear()
    moved_time.offset += 4.9
    assert not cache.available  # still open just before the window ends
    moved_time.offset += 0.2
    assert cache.available
    assert await read(cache, load) == "from db"
    assert await read(cache, Loader("unused")) == "from db"  # cached again once closed


async def test_a_hit_is_one_round_trip_and_a_bump_elsewhere_costs_one_more_read() -> None:
    redis = FakeRedis()
    cache = make_cache(redis)
    await read(cache, Loader("first"))  # fills v0
    redis.calls.clear()
    assert await read(cache, Loader("unused")) == "first"
    assert [command for command, _ in redis.calls] == ["mget"]
    await make_cache(redis).bump(NS)  # another process's write
    await read(cache, Loader("second"))  # fills v1
    redis.calls.clear()
    assert await read(cache, Loader("unused")) == "second"
    assert [command for command, _ in redis.calls] == ["mget"]  # the new version is known now


async def test_a_reader_never_serves_the_entry_of_the_version_it_guessed_after_a_bump() -> None:
    redis = FakeRedis()
    cache = make_cache(redis)
    await read(cache, Loader("old"))
    await make_cache(redis).bump(NS)
    redis.calls.clear()
    assert await read(cache, Loader("new")) == "new"  # v0 was fetched with the MGET, and dropped
    assert [command for command, _ in redis.calls][:2] == ["mget", "get"]


async def test_a_slow_redis_is_given_up_on_after_the_operation_timeout() -> None:
    redis = FakeRedis()
    redis.delay["mget"] = 2.0
    cache = make_cache(redis, operation_timeout=0.05)
    load = Loader("from db")
    before = errors("get")
    started = time.monotonic()
    assert await read(cache, load) == "from db"
    assert time.monotonic() - started < 1.0
    assert errors("get") == before + 1
    assert not cache.available


async def test_a_failed_bump_raises_and_bypasses_the_cache_for_the_ttl(
    moved_time: MovableTime,
) -> None:
    redis = FakeRedis()
    cache = make_cache(redis, ttl_seconds=60, breaker_seconds=5.0)
    load = Loader("old")
    await read(cache, load)
    redis.fail.add("incr")
    before = errors("bump")
    with pytest.raises(RedisConnectionError):
        await cache.bump(NS)
    assert errors("bump") == before + 1
    redis.fail.clear()
    moved_time.offset += 30  # far longer than breaker_seconds, far shorter than the TTL
    load.value = "new"
    # Old entries may still be in Redis: they must not be served until they could have expired.
    assert not cache.available
    assert await read(cache, load) == "new"
    moved_time.offset += 31  # past the TTL: entries written before the bump are gone
    assert cache.available


def trusted(seconds: float, size: int) -> NearCache:
    """A near cache whose invalidation listener has just been heard from (for an hour)."""
    near = NearCache(seconds, size)
    near.heard(3600)
    return near


async def test_without_a_near_cache_every_read_asks_redis() -> None:
    redis, load = FakeRedis(), Loader("value")
    cache = make_cache(redis)
    await read(cache, load)
    redis.calls.clear()
    await read(cache, load)
    await read(cache, load)
    assert [command for command, _ in redis.calls] == ["mget", "mget"]


async def test_the_near_cache_answers_without_redis_until_its_copy_expires(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    redis, load = FakeRedis(), Loader({"name": "mug"})
    cache = make_cache(redis, near=trusted(2.0, 1024))
    near = lookups("near_hit")
    assert await read(cache, load) == {"name": "mug"}  # a miss: loaded, stored in both
    redis.calls.clear()
    assert await read(cache, load) == {"name": "mug"}
    assert redis.calls == []
    assert lookups("near_hit") == near + 1
    # A version moved without a message heard (none here): the copy goes when it expires.
    redis.data["{test:things}:version"] = "1"
    load.value = {"name": "cup"}
    now[0] += 1.9
    assert await read(cache, load) == {"name": "mug"}
    now[0] += 0.2
    assert await read(cache, load) == {"name": "cup"}
    assert load.calls == 2


async def test_an_invalidation_heard_from_another_process_drops_the_copies_at_once() -> None:
    redis, load = FakeRedis(), Loader("old")
    near = trusted(30.0, 1024)
    cache, writer = make_cache(redis, near=near), make_cache(redis)
    await read(cache, load)
    load.value = "new"
    await writer.bump(NS)  # another process: Redis's version moves, this near cache is unaware
    assert await read(cache, load) == "old"
    near.drop(redis.published[-1][1])  # what this process's listener does with the message
    assert await read(cache, load) == "new"


async def test_a_bump_publishes_its_namespace_with_the_increment_in_one_transaction() -> None:
    redis = FakeRedis()
    await make_cache(redis).bump(NS, "7")
    assert [command for command, _ in redis.calls] == ["incr", "publish"]
    assert redis.published == [("cache:invalidations:3", f"{NS}:7")]  # its database's
    assert redis.data["{test:things:7}:version"] == "1"


async def test_a_near_cache_never_heard_from_answers_nothing_and_keeps_nothing() -> None:
    redis, load = FakeRedis(), Loader("value")
    near = NearCache(30.0, 1024)  # no listener has reported: nothing says a write would reach it
    cache = make_cache(redis, near=near)
    await read(cache, load)
    redis.calls.clear()
    await read(cache, load)
    assert [command for command, _ in redis.calls] == ["mget"]
    near.heard(30)
    await read(cache, load)  # trusted now: this read is kept...
    redis.calls.clear()
    await read(cache, load)  # ...and answered from memory
    assert redis.calls == []


async def test_trust_lapses_without_word_and_every_copy_goes_when_it_returns(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    redis, load = FakeRedis(), Loader("value")
    near = NearCache(30.0, 1024)
    near.heard(1.5)
    cache = make_cache(redis, near=near)
    await read(cache, load)
    now[0] += 1.4
    redis.calls.clear()
    await read(cache, load)
    assert redis.calls == []  # still trusted
    now[0] += 0.2  # no word for 1.6 s: the listener may have missed an invalidation
    assert not near.trusted
    await read(cache, load)
    assert [command for command, _ in redis.calls] == ["mget"]
    await read(cache, Loader("not kept"), "b")  # untrusted: nothing is kept meanwhile
    near.heard(1.5)  # heard again: what was kept before the silence is gone
    redis.calls.clear()
    await read(cache, load)
    await read(cache, load, "b")
    assert [command for command, _ in redis.calls] == ["mget", "mget"]


async def test_distrust_drops_every_copy_and_a_load_in_flight_is_not_kept() -> None:
    redis = FakeRedis()
    near = trusted(30.0, 1024)
    cache = make_cache(redis, near=near)
    await read(cache, Loader("kept"), "a")

    async def load_while_the_subscription_breaks() -> str:
        near.distrust()
        near.heard(30)  # and comes back at once
        return "loaded before"

    await read(cache, load_while_the_subscription_breaks, "b")
    redis.calls.clear()
    await read(cache, Loader("kept"), "a")
    await read(cache, Loader("loaded before"), "b")
    assert [command for command, _ in redis.calls] == ["mget", "mget"]


async def test_a_write_in_this_process_drops_its_near_copies_of_that_namespace_only() -> None:
    redis = FakeRedis()
    cache = make_cache(redis, near=trusted(30.0, 1024))
    things, others = Loader("one"), Loader("other")
    await read(cache, things)
    await read(cache, others, ns="test:others")
    things.value, others.value = "two", "changed"
    await cache.bump(NS)
    assert await read(cache, things) == "two"
    assert await read(cache, others, ns="test:others") == "other"  # not written: still near


async def test_a_load_that_began_before_a_write_here_is_not_kept_near() -> None:
    redis = FakeRedis()
    cache = make_cache(redis, near=trusted(30.0, 1024))
    state = {"value": "old"}

    async def load_while_a_write_commits() -> str:
        seen = state["value"]
        state["value"] = "new"
        await cache.bump(NS)
        return seen

    assert await read(cache, load_while_a_write_commits) == "old"
    assert await read(cache, Loader(state["value"])) == "new"


async def test_the_near_cache_holds_at_most_its_size_least_recently_used_first() -> None:
    redis = FakeRedis()
    cache = make_cache(redis, near=trusted(30.0, 2))
    load = Loader("value")
    for key in ("a", "b", "a", "c"):  # "b" is the least recently used when "c" comes
        await read(cache, load, key)
    redis.calls.clear()
    await read(cache, load, "a")
    await read(cache, load, "c")
    assert redis.calls == []
    await read(cache, load, "b")
    assert [command for command, _ in redis.calls] == ["mget"]


async def test_near_copies_are_decoded_per_read_so_no_caller_changes_anothers() -> None:
    redis = FakeRedis()
    cache = make_cache(redis, near=trusted(30.0, 1024))
    first = await read(cache, Loader({"tags": ["a"]}))
    first["tags"].append("changed")
    assert await read(cache, Loader()) == {"tags": ["a"]}
