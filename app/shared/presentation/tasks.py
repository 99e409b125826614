"""What every Celery task adapter shares: how it runs use cases and which errors it retries."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Final, Protocol, TypeVar

import asyncpg
from dishka import AsyncContainer
from prometheus_client import Gauge

from app.shared.application.jobs import JobLock
from app.shared.presentation.transient import TRANSIENT_ERRORS, is_transient

T = TypeVar("T")

# The last success of each periodic job in this worker: the latest of its pool processes', dead
# ones included (a timestamp only goes up, whoever wrote it).
JOB_LAST_SUCCESS = Gauge(
    "periodic_job_last_success_timestamp_seconds",
    "When each periodic job last ran to completion (Unix time).",
    # "task", not "job": a scrape keeps the target's job label and would rename this one.
    ["task"],
    multiprocess_mode="max",
)

# A connection the server dropped mid-operation (a restart's "terminating connection", a
# killed backend) reaches a task as a plain SQLAlchemy DBAPIError around one of these, which
# autoretry_for cannot see through: found on the server's restart under load (make faults),
# where it made a confirmation a dead letter instead of a retry.
_LOST_CONNECTION: Final[tuple[type[BaseException], ...]] = (
    asyncpg.ConnectionDoesNotExistError,
    asyncpg.InternalClientError,
    asyncpg.AdminShutdownError,
)


def lost_connection(error: BaseException) -> bool:
    """Whether ``error`` wraps a database connection lost mid-operation: transient."""
    return is_transient(error, also=_LOST_CONNECTION, itself=False)


class TaskRunner(Protocol):
    """Runs async work in the worker process's event loop, in a fresh DI request scope."""

    def __call__(self, work: Callable[[AsyncContainer], Awaitable[T]]) -> T: ...


def exclusive(
    run: TaskRunner, job: str, interval_seconds: float, body: Callable[[], T]
) -> T | None:
    """Run a periodic job's body once per interval, however many beats sent it: a JobLock claim
    (TTL 0.9 x the interval) or None. A failed run gives its claim back, so the retry Celery
    schedules can run before the next interval."""

    async def claim(scope: AsyncContainer) -> str | None:
        lock: JobLock = await scope.get(JobLock)
        return await lock.acquire(job, interval_seconds * 0.9)

    token = run(claim)
    if token is None:
        return None  # another process holds this interval's run: not a success of ours
    try:
        result = body()
    except Exception:

        async def release(scope: AsyncContainer) -> None:
            await (await scope.get(JobLock)).release(job, token)

        run(release)
        raise
    job_succeeded(job)
    return result


def job_succeeded(job: str) -> None:
    """A periodic job ran to completion: ``periodic_job_last_success_timestamp_seconds``."""
    JOB_LAST_SUCCESS.labels(job).set_to_current_time()


def retrying(
    max_retries: int,
    *,
    also: tuple[type[Exception], ...] = (),
    never: tuple[type[Exception], ...] = (),
) -> dict[str, Any]:
    """Task options: exponential backoff with jitter for transient errors only (``also``: a
    context's own transient errors; ``never``: subclasses of those that are permanent)."""
    return {
        "autoretry_for": (*TRANSIENT_ERRORS, *also),
        "dont_autoretry_for": never,
        "retry_backoff": 2,
        "retry_backoff_max": 300,
        "retry_jitter": True,
        "max_retries": max_retries,
    }
