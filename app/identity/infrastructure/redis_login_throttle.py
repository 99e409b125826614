"""LoginThrottle in Redis: a failure count and the last failure's time per account (one hash
with a TTL), and the networks the account logged in from (a set with a TTL)."""

from __future__ import annotations

import asyncio
import math
import time
from typing import Final

from redis.asyncio import Redis
from structlog.stdlib import get_logger

from app.identity.domain.value_objects import UserId
from app.shared.application.errors import RateLimitedError
from app.shared.application.rate_limit import RateLimiter, RateLimitRule
from app.shared.infrastructure.rate_limiter import RATE_LIMIT_FAILURES, RATE_LIMITED, client_network
from app.shared.infrastructure.redis import RedisErrors

RULE: Final = "login_backoff"  # the label of the rate-limit metrics

# KEYS: the account's failures hash. ARGV: now (epoch s), window (s). Returns the new count.
_FAILED: Final = """
local count = redis.call('HINCRBY', KEYS[1], 'count', 1)
redis.call('HSET', KEYS[1], 'last', ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return count
"""

_log = get_logger(__name__)


class RedisLoginThrottle:
    def __init__(  # noqa: PLR0913 - each is a deliberate setting
        self,
        redis: Redis,
        limiter: RateLimiter,
        *,
        free_failures: int,
        max_backoff_seconds: int,
        window_seconds: int,
        known_network_seconds: int,
        ipv6_prefix: int,
        operation_timeout: float,
    ) -> None:
        self._redis = redis
        self._limiter = limiter
        self._free = free_failures
        self._max_backoff = max_backoff_seconds
        self._window = window_seconds
        self._known_for = known_network_seconds
        self._ipv6_prefix = ipv6_prefix
        self._timeout = operation_timeout
        self._failed = redis.register_script(_FAILED)
        self._errors = RedisErrors("rate_limit")
        RATE_LIMITED.labels(RULE)  # both series from 0
        RATE_LIMIT_FAILURES.labels(RULE)

    @staticmethod
    def _failures_key(user_id: UserId) -> str:
        return f"identity:login-failures:{user_id}"

    @staticmethod
    def _known_key(user_id: UserId) -> str:
        return f"identity:login-networks:{user_id}"

    async def check(self, user_id: UserId, address: str) -> None:
        await self._limiter.hit_address(
            RateLimitRule.LOGIN_PER_ACCOUNT_AND_ADDRESS, address, scope=str(user_id)
        )
        try:
            async with asyncio.timeout(self._timeout):
                count, last = await self._redis.hmget(self._failures_key(user_id), "count", "last")
                if count is None or int(count) <= self._free:
                    return
                network = client_network(address, self._ipv6_prefix)
                if await self._redis.sismember(self._known_key(user_id), network):
                    return
        except Exception:  # noqa: BLE001 - fail open, loudly
            RATE_LIMIT_FAILURES.labels(RULE).inc()
            self._errors.count()
            _log.warning("login_throttle_unavailable", exc_info=True)
            return
        backoff = min(2 ** min(int(count) - self._free - 1, 30), self._max_backoff)
        remaining = float(last or 0) + backoff - time.time()
        if remaining <= 0:
            return
        RATE_LIMITED.labels(RULE).inc()
        raise RateLimitedError(
            "Too many failed log-ins for this account; retry later.",
            retry_after=max(1, math.ceil(remaining)),
            limit=self._free,
            window_seconds=self._window,
        )

    async def failed(self, user_id: UserId) -> None:
        try:
            async with asyncio.timeout(self._timeout):
                await self._failed(
                    keys=[self._failures_key(user_id)], args=[time.time(), self._window]
                )
        except Exception:  # noqa: BLE001 - fail open, loudly
            RATE_LIMIT_FAILURES.labels(RULE).inc()
            self._errors.count()
            _log.warning("login_throttle_unavailable", exc_info=True)

    async def succeeded(self, user_id: UserId, address: str) -> None:
        known = self._known_key(user_id)
        try:
            async with asyncio.timeout(self._timeout):
                async with self._redis.pipeline(transaction=False) as pipe:
                    pipe.delete(self._failures_key(user_id))
                    pipe.sadd(known, client_network(address, self._ipv6_prefix))
                    pipe.expire(known, self._known_for)
                    await pipe.execute()
        except Exception:  # noqa: BLE001 - the log-in itself succeeded
            RATE_LIMIT_FAILURES.labels(RULE).inc()
            self._errors.count()
            _log.warning("login_throttle_unavailable", exc_info=True)
