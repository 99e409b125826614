"""Argon2id hashing off the event loop, in a bounded thread pool with a bounded queue.

argon2 releases the GIL, so threads give real parallelism. When every thread is busy and the
queue is full, callers get ServiceBusyError (-> 503 with Retry-After) instead of piling up.

On Linux the hashing threads run niced (``nice``, 10 by default): a hash is CPU-bound for tens
of milliseconds, and at the event loop's priority a burst of log-ins takes the cores from every
other request. Niced, they use what the loops leave: reads keep their latency during a log-in
storm, and log-ins alone still get every idle cycle.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
import threading
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
        nice: int = 0,
    ) -> None:
        self._pwd = Pwdlib(
            (
                Argon2Hasher(
                    time_cost=time_cost, memory_cost=memory_cost_kib, parallelism=parallelism
                ),
            )
        )
        self._executor = ThreadPoolExecutor(
            max_workers=max_threads,
            thread_name_prefix="argon2",
            initializer=_lower_priority,
            initargs=(nice,),
        )
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


def _lower_priority(nice: int) -> None:
    """Runs in each new hashing thread: Linux schedules threads as tasks, so the thread's own id
    takes a niceness of its own. Elsewhere that id is no process id: leave the priority alone."""
    if nice <= 0 or sys.platform != "linux":
        return
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)
    except OSError:  # a sandbox that forbids it: hash at normal priority
        return
