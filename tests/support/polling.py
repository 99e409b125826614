"""Waiting on a signal: a row, a task result, a file, a log line. Never a fixed sleep.

The deadline is generous (a busy 2-core machine runs several suites at once): it only bounds how
long a failing test takes. A test that must show that nothing more arrives waits for the work's
own completion signal (the processed-events row, the task's result), then looks.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, overload

T = TypeVar("T")

WITHIN = 60.0  # seconds; a bound on failure, never a measure of speed


@overload
async def until(
    check: Callable[[], Awaitable[T]],
    *,
    within: float = ...,
    every: float = ...,
    what: str | Callable[[], str] = ...,
) -> T: ...


@overload
async def until(
    check: Callable[[], T],
    *,
    within: float = ...,
    every: float = ...,
    what: str | Callable[[], str] = ...,
) -> T: ...


async def until(
    check: Callable[[], Any],
    *,
    within: float = WITHIN,
    every: float = 0.05,
    what: str | Callable[[], str] = "",
) -> Any:
    """Poll ``check`` (plain or async) until it returns something truthy, and return that.

    asyncio.sleep between polls, not time.sleep: the app's fast-path relay runs on the test's
    event loop and must be able to proceed. Fails the test after ``within`` seconds, with
    ``what`` (or what it returns) as the message.
    """
    deadline = time.monotonic() + within
    while True:
        value = check()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if time.monotonic() >= deadline:
            message = what() if callable(what) else what
            raise AssertionError(f"not within {within:g}s: {message or check}")
        await asyncio.sleep(every)


def until_sync(
    check: Callable[[], T],
    *,
    within: float = WITHIN,
    every: float = 0.05,
    what: str | Callable[[], str] = "",
) -> T:
    """``until`` for synchronous tests (nothing of the app runs on the test's thread)."""
    deadline = time.monotonic() + within
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() >= deadline:
            message = what() if callable(what) else what
            raise AssertionError(f"not within {within:g}s: {message or check}")
        time.sleep(every)
