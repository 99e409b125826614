"""Redis client with explicit timeouts and a bounded retry policy."""

from __future__ import annotations

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError


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
