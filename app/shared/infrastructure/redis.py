"""Redis client with explicit timeouts and a bounded retry policy, and the count of its errors
by use."""

from __future__ import annotations

from types import TracebackType
from typing import Final

from prometheus_client import Counter
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

REDIS_ERRORS = Counter(
    "redis_errors_total",
    "Redis errors, by what the platform used Redis for (absorbed or not).",
    ["use"],
)
# What a failing Redis raises: the client's errors, the socket's, and our own deadlines.
REDIS_FAILURES: Final = (RedisError, OSError, TimeoutError)


def create_redis(
    url: str,
    *,
    socket_timeout: float,
    connect_timeout: float,
    retries: int,
    max_connections: int,
) -> Redis:
    # redis-py 8 gives from_url() no retry policy unless asked: retry transient network errors
    # a few times with jittered backoff, then let the error surface (-> 503).
    retry = Retry(ExponentialWithJitterBackoff(base=0.05, cap=0.5), retries)
    return Redis.from_url(
        url,
        socket_timeout=socket_timeout,
        socket_connect_timeout=connect_timeout,
        retry=retry,
        retry_on_error=[RedisConnectionError, RedisTimeoutError],
        health_check_interval=30,
        max_connections=max_connections,
        decode_responses=True,
    )


class RedisErrors:
    """One use's count in ``redis_errors_total`` (``cache``, ``sessions``, ``rate_limit``,
    ``job_lock``, ``broker``, ``readiness``).

    Each adapter makes its own when it is made, so its series is there at 0 before any error
    (a counter that first appears at 1 shows no increase). As a context manager it counts a
    Redis failure passing through and lets it go on; ``count()`` is for errors an adapter
    absorbs itself.
    """

    __slots__ = ("_counter",)

    def __init__(self, use: str) -> None:
        self._counter = REDIS_ERRORS.labels(use)

    def count(self) -> None:
        self._counter.inc()

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if isinstance(error, REDIS_FAILURES):
            self._counter.inc()
