"""Argon2id hashing off the event loop, in a bounded thread pool with a bounded queue.

argon2 releases the GIL, so threads give real parallelism. When every thread is busy and the
queue is full, callers get ServiceBusyError (-> 503 with Retry-After) instead of piling up.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from pwdlib import PasswordHash as Pwdlib
from pwdlib.hashers.argon2 import Argon2Hasher

from app.identity.domain.ports import PasswordCheck
from app.identity.domain.value_objects import PasswordHash, RawPassword
from app.shared.application.errors import ServiceBusyError

T = TypeVar("T")


class Argon2PasswordHasher:
    def __init__(
        self,
        *,
        time_cost: int,
        memory_cost_kib: int,
        parallelism: int,
        max_threads: int,
        max_waiting: int,
    ) -> None:
        self._pwd = Pwdlib(
            (
                Argon2Hasher(
                    time_cost=time_cost, memory_cost=memory_cost_kib, parallelism=parallelism
                ),
            )
        )
        self._executor = ThreadPoolExecutor(max_workers=max_threads, thread_name_prefix="argon2")
        self._capacity = max_threads + max_waiting
        self._in_flight = 0
        self._dummy_hash: str | None = None

    async def hash(self, password: RawPassword) -> PasswordHash:
        return PasswordHash(await self._run(self._pwd.hash, password.value))

    async def verify(self, password: RawPassword, password_hash: PasswordHash) -> PasswordCheck:
        valid, updated = await self._run(
            self._pwd.verify_and_update, password.value, password_hash.value
        )
        return PasswordCheck(
            valid=valid, upgraded_hash=PasswordHash(updated) if updated is not None else None
        )

    async def verify_dummy(self, password: RawPassword) -> None:
        if self._dummy_hash is None:
            self._dummy_hash = await self._run(self._pwd.hash, secrets.token_urlsafe(16))
        await self._run(self._pwd.verify, password.value, self._dummy_hash)

    async def _run(self, function: Callable[..., T], *args: str) -> T:
        if self._in_flight >= self._capacity:
            raise ServiceBusyError("Too many password checks in progress; retry shortly.")
        self._in_flight += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, function, *args)
        finally:
            self._in_flight -= 1

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
