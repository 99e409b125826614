"""A periodic job's last success is recorded when its body ran to completion here, never when
another process held the run or the body failed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar, cast

import pytest
from dishka import AsyncContainer
from prometheus_client import REGISTRY

from app.shared.application.jobs import JobLock
from app.shared.presentation.tasks import exclusive

T = TypeVar("T")


class _Scope:
    def __init__(self, lock: JobLock) -> None:
        self._lock = lock

    async def get(self, _: object) -> JobLock:
        return self._lock


class _Lock:
    def __init__(self, *, free: bool) -> None:
        self.free = free
        self.released = False

    async def acquire(self, _job: str, _ttl_seconds: float) -> str | None:
        return "token" if self.free else None

    async def release(self, _job: str, token: str) -> None:
        assert token == "token"
        self.released = True


class _Runner:
    """The worker runtime's part: each piece of work on a loop, with the lock in its scope."""

    def __init__(self, lock: _Lock) -> None:
        self._scope = cast("AsyncContainer", _Scope(lock))

    def __call__(self, work: Callable[[AsyncContainer], Awaitable[T]]) -> T:
        async def scoped() -> T:
            return await work(self._scope)

        return asyncio.run(scoped())


def _last_success(job: str) -> float | None:
    return REGISTRY.get_sample_value("periodic_job_last_success_timestamp_seconds", {"task": job})


def test_a_run_to_completion_records_its_time() -> None:
    before = time.time()
    assert exclusive(_Runner(_Lock(free=True)), "unit.done", 60, lambda: 7) == 7
    recorded = _last_success("unit.done")
    assert recorded is not None
    assert before <= recorded <= time.time()


def test_a_run_another_process_holds_records_nothing() -> None:
    assert exclusive(_Runner(_Lock(free=False)), "unit.held", 60, lambda: 7) is None
    assert _last_success("unit.held") is None


def test_a_failed_run_records_nothing_and_gives_its_claim_back() -> None:
    lock = _Lock(free=True)

    def fail() -> int:
        raise ConnectionResetError

    with pytest.raises(ConnectionResetError):
        exclusive(_Runner(lock), "unit.failed", 60, fail)
    assert lock.released
    assert _last_success("unit.failed") is None
