from __future__ import annotations

from typing import Protocol


class JobLock(Protocol):
    async def acquire(self, job: str, ttl_seconds: float) -> bool:
        """Claim one run of a periodic job; False when another process holds it.

        The lock is not released: it expires with its TTL (the job's interval), so two beat
        schedulers sending the same job twice in one interval still run it once.
        """
        ...

    async def release(self, job: str) -> None:
        """Give a claim back (the run failed): its retry may then claim it again."""
        ...
