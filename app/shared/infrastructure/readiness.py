"""Readiness: can this process reach the services it needs, right now and quickly, and does the
database hold the schema this code needs?"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.shared.infrastructure.redis import RedisErrors

SchemaProbe = Callable[[], Awaitable[bool]]
"""True when the database's schema is not behind this code (the composition root knows how)."""


class ReadinessChecker:
    def __init__(
        self, engine: AsyncEngine, redis: Redis, *, timeout: float, schema: SchemaProbe
    ) -> None:
        self._checks: dict[str, Callable[[], Awaitable[str]]] = {
            "postgres": self._ping_postgres,
            "redis": self._ping_redis,
            "schema": self._check_schema,
        }
        self._engine = engine
        self._redis = redis
        self._timeout = timeout
        self._schema = schema
        self._schema_passed = False
        self._redis_errors = RedisErrors("readiness")

    async def check(self) -> dict[str, str]:
        """Check name -> "ok", "behind" (schema), "timeout" or the error's type; all run
        concurrently."""
        names = list(self._checks)
        results = await asyncio.gather(
            *(self._run(self._checks[name]) for name in names), return_exceptions=False
        )
        checked = dict(zip(names, results, strict=True))
        if checked["redis"] != "ok":  # a timeout included, which _ping_redis never sees
            self._redis_errors.count()
        return checked

    async def _run(self, check: Callable[[], Awaitable[str]]) -> str:
        try:
            async with asyncio.timeout(self._timeout):
                return await check()
        except TimeoutError:
            return "timeout"
        except Exception as error:  # noqa: BLE001 - any failure means "not ready", reported by kind
            return f"error: {type(error).__name__}"

    async def _ping_postgres(self) -> str:
        async with self._engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        return "ok"

    async def _ping_redis(self) -> str:
        await self._redis.ping()
        return "ok"

    async def _check_schema(self) -> str:
        # A schema never goes backwards: once it has caught up with this code, steady-state
        # probes skip the query.
        if not self._schema_passed:
            self._schema_passed = await self._schema()
        return "ok" if self._schema_passed else "behind"
