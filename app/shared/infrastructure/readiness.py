"""Readiness: can this process reach the services it needs, right now and quickly?"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine


class ReadinessChecker:
    def __init__(self, engine: AsyncEngine, redis: Redis, *, timeout: float) -> None:
        self._checks: dict[str, Callable[[], Awaitable[object]]] = {
            "postgres": self._ping_postgres,
            "redis": self._ping_redis,
        }
        self._engine = engine
        self._redis = redis
        self._timeout = timeout

    async def check(self) -> dict[str, str]:
        """Dependency name -> "ok", "timeout" or the error's type; all run concurrently."""
        names = list(self._checks)
        results = await asyncio.gather(
            *(self._run(self._checks[name]) for name in names), return_exceptions=False
        )
        return dict(zip(names, results, strict=True))

    async def _run(self, check: Callable[[], Awaitable[object]]) -> str:
        try:
            async with asyncio.timeout(self._timeout):
                await check()
        except TimeoutError:
            return "timeout"
        except Exception as error:  # noqa: BLE001 - any failure means "not ready", reported by kind
            return f"error: {type(error).__name__}"
        return "ok"

    async def _ping_postgres(self) -> None:
        async with self._engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def _ping_redis(self) -> None:
        await self._redis.ping()
