"""Cache-aside in Redis with versioned keys, stampede protection and a circuit breaker.

- Versioned keys: an entry lives under ``<namespace>:v<N>:<key>``; a write bumps ``N`` after its
  commit, so every later read misses and reloads. Nothing is deleted and no reader can put old
  data under the new version: it read the version before the database.
- One round trip per hit: the version and the entry are read together (MGET), the entry under
  the version this process saw last; only when the version has moved is the entry read again.
- Stampede protection: concurrent misses for one entry are collapsed in-process (one load per
  process) and across processes by a short Redis lock; the others wait briefly for the winner's
  value, then load themselves rather than wait long.
- Failure: any Redis error or slow answer skips the cache (reads go to PostgreSQL), is logged
  and counted, and opens a breaker so the following requests do not each wait for a timeout.
- Near cache (``NearCache``, ``APP_CACHE_LOCAL_SECONDS``): an entry read or filled here is also
  kept in this process and answered without a Redis round trip. Every bump publishes its
  namespace (``invalidations_channel``) in the same transaction as the version's increment, and each
  process's ``InvalidationListener`` (cache_invalidations.py) drops its copies when the message
  arrives; the near cache answers only while that listener has heard from Redis lately, so a
  lost subscription turns it off rather than letting it go stale.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, NewType, TypeVar, cast

from prometheus_client import Counter
from redis.asyncio import Redis
from structlog.stdlib import get_logger

from app.shared.infrastructure.breaker import CircuitBreaker
from app.shared.infrastructure.redis import RedisErrors

T = TypeVar("T")
# The cache's own Redis client (APP_CACHE_REDIS_URL), or the application's when it has none.
CacheRedis = NewType("CacheRedis", Redis)

CACHE_LOOKUPS = Counter(
    "cache_lookups_total",
    "Cache lookups by kind of entry and outcome.",
    ["kind", "outcome"],
)
CACHE_ERRORS = Counter(
    "cache_errors_total", "Redis errors the cache absorbed (reads fell back to the database).",
    ["operation"],
)  # fmt: skip

# What the cache asks Redis, as cache_errors_total labels them.
_OPERATIONS = ("get", "lock", "set", "unlock", "bump")

_log = get_logger(__name__)
_MISSING = object()
_SEEN_NAMESPACES = 10_000


def _monotonic() -> float:
    # Looked up at each call, not bound once: a test moves this module's time to pass a
    # breaker's window without waiting.
    return time.monotonic()


class VersionedCache:
    def __init__(
        self,
        redis: Redis,
        *,
        ttl_seconds: int,
        operation_timeout: float,
        breaker_seconds: float,
        lock_seconds: float = 2.0,
        wait_for_peer: float = 0.5,
        near: NearCache | None = None,
    ) -> None:
        self._redis = redis
        self._channel = invalidations_channel(redis)
        self._ttl = ttl_seconds
        self._timeout = operation_timeout
        self._breaker_seconds = breaker_seconds
        self._breaker = CircuitBreaker(breaker_seconds, clock=_monotonic)
        self._lock_ms = int(lock_seconds * 1000)
        self._wait_for_peer = wait_for_peer
        self._inflight: dict[str, asyncio.Future[Any]] = {}
        # The version each namespace had when this process last read it: a guess, checked by
        # the same MGET; bounded, since product ids (scopes) come from URLs.
        self._seen: OrderedDict[str, str] = OrderedDict()
        self._near = near or NearCache(0.0, 1)
        self._errors = RedisErrors("cache")
        for operation in _OPERATIONS:  # every series from 0, before any error
            CACHE_ERRORS.labels(operation)

    @property
    def available(self) -> bool:
        return self._breaker.closed

    async def get_or_load(
        self,
        kind: str,
        key: str,
        load: Callable[[], Awaitable[T]],
        *,
        encode: Callable[[T], Any],
        decode: Callable[[Any], T],
        scope: str = "",
    ) -> T:
        """Entries are invalidated together per namespace: ``kind``, or ``kind`` + ``scope``
        (e.g. one product). Metrics are labelled by ``kind`` only, to keep label values few."""
        namespace = _namespace(kind, scope)
        near = self._near.get(namespace, key)
        if isinstance(near, str):
            CACHE_LOOKUPS.labels(kind, "near_hit").inc()
            return decode(json.loads(near))
        since = self._near.writes
        if not self.available:
            return await self._bypass(kind, namespace, key, load)
        guess = self._seen.get(namespace, "0")
        found = await self._call(
            "get", self._redis.mget(_version_key(namespace), _entry(namespace, guess, key))
        )
        if found is _MISSING:
            return await self._bypass(kind, namespace, key, load)
        version, cached = found[0] or "0", found[1]
        self._remember(namespace, version)
        entry = _entry(namespace, version, key)
        if version != guess:  # bumped since this process last looked: read the current entry
            cached = await self._call("get", self._redis.get(entry))
            if cached is _MISSING:
                return await self._bypass(kind, namespace, key, load)
        if isinstance(cached, str):
            CACHE_LOOKUPS.labels(kind, "hit").inc()
            self._near.put(namespace, key, cached, since=since)
            return decode(json.loads(cached))
        CACHE_LOOKUPS.labels(kind, "miss").inc()
        return await self._single_flight(
            entry, lambda: self._fill(entry, load, encode, decode, near=(namespace, key, since))
        )

    async def uncached(self, kind: str, load: Callable[[], Awaitable[T]]) -> T:
        """A read the caller chose not to cache: counted, so the hit ratio stays honest."""
        CACHE_LOOKUPS.labels(kind, "skip").inc()
        return await load()

    def _remember(self, namespace: str, version: str) -> None:
        self._seen[namespace] = version
        self._seen.move_to_end(namespace)
        if len(self._seen) > _SEEN_NAMESPACES:
            self._seen.popitem(last=False)

    async def _bypass(
        self, kind: str, namespace: str, key: str, load: Callable[[], Awaitable[T]]
    ) -> T:
        # Without Redis, concurrent readers of one entry in this process still share one load:
        # an outage must not turn a burst into a burst of identical queries.
        CACHE_LOOKUPS.labels(kind, "bypass").inc()
        return await self._single_flight(f"bypass:{namespace}:{key}", load)

    async def bump(self, kind: str, scope: str = "") -> None:
        """Invalidate every entry of the namespace (call after the write's commit): here at
        once, in Redis by the version, and in other processes' near caches by the message,
        which MULTI sends only with the increment."""
        namespace = _namespace(kind, scope)
        self._near.drop(namespace)
        try:
            async with asyncio.timeout(self._timeout), self._redis.pipeline() as pipeline:
                pipeline.incr(_version_key(namespace))
                pipeline.publish(self._channel, namespace)
                await pipeline.execute()
        except Exception:
            # Old entries may outlive this write; stop reading them here until they expire.
            self._trip("bump", seconds=self._ttl)
            raise

    async def _fill(
        self,
        entry: str,
        load: Callable[[], Awaitable[T]],
        encode: Callable[[T], Any],
        decode: Callable[[Any], T],
        *,
        near: tuple[str, str, int],
    ) -> T:
        lock = f"{entry}:lock"
        acquired = await self._call("lock", self._redis.set(lock, "1", nx=True, px=self._lock_ms))
        if acquired is None:  # a peer process is loading it: give it a moment
            deadline = time.monotonic() + self._wait_for_peer
            while time.monotonic() < deadline:
                await asyncio.sleep(0.02)
                cached = await self._call("get", self._redis.get(entry))
                if isinstance(cached, str):
                    return decode(json.loads(cached))
                if cached is _MISSING:
                    break
        value = await load()
        if value is not None:
            payload = json.dumps(encode(value), separators=(",", ":"), default=str)
            namespace, key, since = near
            self._near.put(namespace, key, payload, since=since)
            await self._call("set", self._redis.set(entry, payload, ex=self._ttl))
        if acquired is True:
            await self._call("unlock", self._redis.delete(lock))
        return value

    async def _single_flight(self, entry: str, work: Callable[[], Awaitable[T]]) -> T:
        running = self._inflight.get(entry)
        if running is not None:
            result: T = await asyncio.shield(running)
            return result
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._inflight[entry] = future
        try:
            value = await work()
        except BaseException as error:
            future.set_exception(error)
            future.exception()  # mark retrieved: waiters (if any) re-raise it
            raise
        else:
            future.set_result(value)
            return value
        finally:
            del self._inflight[entry]

    async def _call(self, operation: str, command: Awaitable[Any]) -> Any:  # noqa: ANN401
        try:
            async with asyncio.timeout(self._timeout):
                return await command
        except Exception:  # noqa: BLE001 - any Redis failure: serve from the database
            self._trip(operation)
            return _MISSING

    def _trip(self, operation: str, *, seconds: float | None = None) -> None:
        CACHE_ERRORS.labels(operation).inc()
        self._errors.count()
        if self._breaker.open(seconds):
            _log.warning(
                "cache_unavailable",
                operation=operation,
                bypass_seconds=self._breaker_seconds if seconds is None else seconds,
            )


class NearCache:
    """This process's copies of entries for ``seconds``, at most ``size`` of them (the least
    recently used go first). Values are immutable: entries are kept as JSON text and decoded per
    read, so no caller can change another's answer, and ``NearResponses`` keeps whole answers
    as bytes. With ``seconds`` at 0 it holds nothing.

    It answers only while trusted: the invalidation listener calls ``heard`` on each message
    from Redis (an invalidation, a reply to its ping), which trusts it for that many seconds
    more; a copy is never answered once they have passed without word, and a listener that
    lost its subscription calls ``distrust``. Trust that lapsed or was withdrawn drops every
    copy when it comes back: an invalidation may have been missed in between.

    ``writes`` counts the writes this process did or heard of: an entry read before one of them
    may predate it, so ``put`` refuses it (a write is rare; the next read keeps it)."""

    def __init__(self, seconds: float, size: int) -> None:
        self._seconds = seconds
        self._size = size
        self._entries: OrderedDict[tuple[str, str], tuple[float, Hashable]] = OrderedDict()
        self._trusted_until = 0.0
        self.writes = 0

    @property
    def trusted(self) -> bool:
        return time.monotonic() < self._trusted_until

    def heard(self, seconds: float) -> None:
        if not self.trusted:
            self._forget()
        self._trusted_until = time.monotonic() + seconds

    def distrust(self) -> None:
        self._trusted_until = 0.0
        self._forget()

    def get(self, namespace: str, key: str) -> Hashable | None:
        if not self._entries:
            return None
        found = self._entries.get((namespace, key))
        if found is None:
            return None
        expires, text = found
        now = time.monotonic()
        if now >= expires or now >= self._trusted_until:
            del self._entries[namespace, key]
            return None
        self._entries.move_to_end((namespace, key))
        return text

    def put(self, namespace: str, key: str, text: Hashable, *, since: int) -> None:
        if self._seconds <= 0 or since != self.writes or not self.trusted:
            return
        self._entries[namespace, key] = (time.monotonic() + self._seconds, text)
        self._entries.move_to_end((namespace, key))
        if len(self._entries) > self._size:
            self._entries.popitem(last=False)

    def drop(self, namespace: str) -> None:
        self.writes += 1
        # Writes are rare next to reads, and the entries few: a scan is cheap enough.
        for stale in [entry for entry in self._entries if entry[0] == namespace]:
            del self._entries[stale]

    def _forget(self) -> None:
        self.writes += 1  # a load in flight may predate a missed invalidation
        self._entries.clear()


# A whole answer: its status line's headers, then its body.
Answer = tuple[tuple[tuple[bytes, bytes], ...], bytes]
_ANSWER = "http-answer"  # the near cache's key of a namespace's whole answer, beside its entries


class NearResponses:
    """Whole HTTP answers in the near cache (``ResponseCache`` of the presentation layer), kept
    under the namespace of what they show, so the writes that drop its entries drop them too,
    here or heard of. A hit counts as the entry's near hit."""

    def __init__(self, near: NearCache) -> None:
        self._near = near

    def get(self, kind: str, scope: str) -> Answer | None:
        found = self._near.get(_namespace(kind, scope), _ANSWER)
        if found is None:
            return None
        CACHE_LOOKUPS.labels(kind, "near_hit").inc()
        return cast("Answer", found)

    def since(self) -> int:
        return self._near.writes

    def put(self, kind: str, scope: str, answer: Answer, *, since: int) -> None:
        self._near.put(_namespace(kind, scope), _ANSWER, answer, since=since)


def _namespace(kind: str, scope: str) -> str:
    return f"{kind}:{scope}" if scope else kind


def _entry(namespace: str, version: str, key: str) -> str:
    return f"{{{namespace}}}:v{version}:{key}"


def _version_key(namespace: str) -> str:
    return f"{{{namespace}}}:version"


def invalidations_channel(redis: Redis) -> str:
    """The channel every bump publishes its namespace on, for the near caches of all processes.
    Pub/sub ignores the database number, so the channel names it: apps (or test runs) on other
    databases of one server do not drop each other's copies."""
    return f"cache:invalidations:{redis.connection_pool.connection_kwargs.get('db', 0)}"
