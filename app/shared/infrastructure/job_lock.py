from __future__ import annotations

import os
import socket

from redis.asyncio import Redis


class RedisJobLock:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._owner = f"{socket.gethostname()}:{os.getpid()}"

    async def acquire(self, job: str, ttl_seconds: float) -> bool:
        claimed = await self._redis.set(
            f"jobs:lock:{job}", self._owner, nx=True, px=max(1, int(ttl_seconds * 1000))
        )
        return bool(claimed)
