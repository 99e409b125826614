from __future__ import annotations

import os
import socket
import uuid
from contextlib import suppress

from redis.asyncio import Redis
from redis.asyncio.lock import Lock
from redis.exceptions import LockNotOwnedError

from app.shared.infrastructure.redis import RedisErrors


class RedisJobLock:
    """Periodic-job claims as redis-py token locks: each claim stores its own token, and a
    release deletes the key in one Lua script only while it still holds that token."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        # Who holds a claim, for an operator reading the key; the uuid makes each claim unique.
        self._owner = f"{socket.gethostname()}:{os.getpid()}"
        self._errors = RedisErrors("job_lock")

    def _lock(self, job: str, ttl_seconds: float | None = None) -> Lock:
        return Lock(
            self._redis, f"jobs:lock:{job}", timeout=ttl_seconds, blocking=False, thread_local=False
        )

    async def acquire(self, job: str, ttl_seconds: float) -> str | None:
        token = f"{self._owner}:{uuid.uuid4().hex}"
        ttl = max(1, int(ttl_seconds * 1000)) / 1000  # SET NX PX <ms>: at least 1 ms
        with self._errors:
            claimed = await self._lock(job, ttl).acquire(token=token)
        return token if claimed else None

    async def release(self, job: str, token: str) -> None:
        # GET then DELETE could delete a claim that expired between the two and was taken by
        # another run; the lock's release script compares and deletes at once. A claim that is
        # no longer ours (LockNotOwnedError) stays with its holder.
        with self._errors, suppress(LockNotOwnedError):
            await self._lock(job).do_release(token.encode())
