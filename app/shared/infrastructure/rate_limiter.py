"""Redis-backed rate limits with the ``limits`` library (moving windows: no burst at a boundary)."""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import math
import time
from collections.abc import Mapping

from limits import RateLimitItem, parse
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter
from prometheus_client import Counter
from redis.asyncio import Redis
from structlog.stdlib import get_logger

from app.shared.application.errors import RateLimitedError
from app.shared.application.rate_limit import RateLimitRule
from app.shared.infrastructure.redis import RedisErrors

RATE_LIMITED = Counter("rate_limit_rejections_total", "Requests refused by a limit.", ["rule"])
RATE_LIMIT_FAILURES = Counter(
    "rate_limit_store_errors_total",
    "Limit checks skipped (failed open): Redis unreachable.",
    ["rule"],
)

_log = get_logger(__name__)


class LimitsRateLimiter:
    def __init__(
        self,
        redis: Redis,
        rules: Mapping[RateLimitRule, str],
        *,
        enabled: bool,
        operation_timeout: float,
        ipv6_prefix: int = 64,
    ) -> None:
        # Shares the application's pool, timeouts and retry policy.
        storage = RedisStorage(
            "async+redis://",
            implementation="redispy",
            connection_pool=redis.connection_pool,  # type: ignore[arg-type] # limits types **options narrowly
            key_prefix="ratelimit",
        )
        self._limiter = MovingWindowRateLimiter(storage)
        self._rules: dict[RateLimitRule, RateLimitItem] = {
            rule: parse(text) for rule, text in rules.items()
        }
        self._enabled = enabled
        self._timeout = operation_timeout
        self._ipv6_prefix = ipv6_prefix
        self._errors = RedisErrors("rate_limit")
        for rule in rules:  # every series from 0, before the first refusal or failure
            RATE_LIMITED.labels(rule.value)
            RATE_LIMIT_FAILURES.labels(rule.value)

    async def hit_address(self, rule: RateLimitRule, address: str, *, scope: str = "") -> None:
        await self.hit(rule, f"{scope}|{client_network(address, self._ipv6_prefix)}")

    async def hit(self, rule: RateLimitRule, key: str) -> None:
        await self._apply(rule, key, count=True)

    async def check(self, rule: RateLimitRule, key: str) -> None:
        await self._apply(rule, key, count=False)

    async def _apply(self, rule: RateLimitRule, key: str, *, count: bool) -> None:
        item = self._rules[rule]
        if not self._enabled:
            return
        # Keys may be user input (a login name): hash them to a fixed, safe shape.
        safe_key = hashlib.sha256(key.encode()).hexdigest()[:32]
        try:
            # Its own short deadline: a slow Redis must not hold every log-in for the client's
            # full timeout and retries before failing open.
            async with asyncio.timeout(self._timeout):
                if count and await self._limiter.hit(item, rule.value, safe_key):
                    return
                reset_at, remaining = await self._limiter.get_window_stats(
                    item, rule.value, safe_key
                )
                if not count and remaining > 0:
                    return
        except Exception:  # noqa: BLE001 - fail open, loudly
            RATE_LIMIT_FAILURES.labels(rule.value).inc()
            self._errors.count()
            _log.warning("rate_limit_unavailable", rule=rule.value, exc_info=True)
            return
        RATE_LIMITED.labels(rule.value).inc()
        raise RateLimitedError(
            "Too many attempts; retry later.",
            retry_after=max(1, math.ceil(reset_at - time.time())),
            limit=item.amount,
            window_seconds=item.get_expiry(),
        )


def client_network(address: str, ipv6_prefix: int) -> str:
    """What a per-address limit counts: the IPv4 address, or the IPv6 network around it."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:  # "unknown" (no peer), or a Unix socket's path
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:  # ::ffff:192.0.2.7 from a dual-stack proxy
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, ipv6_prefix), strict=False))
    return str(ip)
