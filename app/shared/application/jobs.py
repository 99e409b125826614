from __future__ import annotations

from typing import Protocol


class JobLock(Protocol):
    async def acquire(self, job: str, ttl_seconds: float) -> str | None:
        """Claim one run of a periodic job: the claim's token, or None when another run holds it.

        The lock is not released after a success: it expires with its TTL (the job's interval),
        so two beat schedulers sending the same job twice in one interval still run it once.
        """
        ...

    async def release(self, job: str, token: str) -> None:
        """Give a claim back (the run failed), so its retry may claim it again; a claim that
        expired and was taken by another run (another token) stays with that run."""
        ...
