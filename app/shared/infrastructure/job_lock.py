from __future__ import annotations

import os
import socket

from redis.asyncio import Redis

from app.shared.infrastructure.redis import RedisErrors


class RedisJobLock:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._owner = f"{socket.gethostname()}:{os.getpid()}"
        self._errors = RedisErrors("job_lock")

    async def acquire(self, job: str, ttl_seconds: float) -> bool:
        with self._errors:
            claimed = await self._redis.set(
                f"jobs:lock:{job}", self._owner, nx=True, px=max(1, int(ttl_seconds * 1000))
            )
        return bool(claimed)

    async def release(self, job: str) -> None:
        # Only our own claim: a lock that expired and was taken by another run stays.
        key = f"jobs:lock:{job}"
        with self._errors:
            if await self._redis.get(key) == self._owner:
                await self._redis.delete(key)
