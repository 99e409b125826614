"""The hashing threads yield the cores to the event loop: they run niced on Linux."""

from __future__ import annotations

import asyncio
import os
import sys
import threading

import pytest

from app.identity.domain.value_objects import RawPassword
from app.identity.infrastructure.argon2_password_hasher import Argon2PasswordHasher

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="thread niceness is Linux's")


def _hasher(nice: int) -> Argon2PasswordHasher:
    return Argon2PasswordHasher(
        time_cost=1, memory_cost_kib=8, parallelism=1, max_threads=1, max_waiting=0, nice=nice
    )


async def _priority_of_the_hashing_thread(hasher: Argon2PasswordHasher) -> int:
    await hasher.hash(RawPassword("a long enough password"))  # the pool's thread exists now
    seen: list[int] = []
    executor = hasher._executor  # the pool's own thread is what is under test
    await asyncio.get_running_loop().run_in_executor(
        executor, lambda: seen.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
    )
    return seen[0]


async def test_hashing_threads_run_at_the_configured_niceness_and_the_loop_does_not() -> None:
    before = os.getpriority(os.PRIO_PROCESS, 0)
    hasher = _hasher(nice=10)
    try:
        # Absolute, and never above the process's own priority.
        assert await _priority_of_the_hashing_thread(hasher) == max(before, 10)
    finally:
        hasher.close()
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == before


async def test_nice_zero_leaves_the_threads_at_the_loops_priority() -> None:
    hasher = _hasher(nice=0)
    try:
        assert await _priority_of_the_hashing_thread(hasher) == os.getpriority(os.PRIO_PROCESS, 0)
    finally:
        hasher.close()
