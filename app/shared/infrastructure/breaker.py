"""A small circuit breaker: after a failure, callers skip a dependency for a while.

While it is open, a request skips the dependency at once (the cache serves from the database,
the fast path leaves events to the sweep) instead of each waiting for its own timeout. It
closes by itself when the time is up; the next call is the probe. There is no half-open state
and no failure count: one failure is enough to step aside for a few seconds, and every
dependency it guards has a slower way that is always right.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class CircuitBreaker:
    __slots__ = ("_clock", "_open_until", "_seconds")

    def __init__(self, seconds: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._seconds = seconds
        self._clock = clock
        self._open_until = 0.0

    @property
    def closed(self) -> bool:
        """Whether calls may go to the dependency now."""
        return self._clock() >= self._open_until

    def open(self, seconds: float | None = None) -> bool:
        """Open for ``seconds`` from now (the breaker's own when None). A shorter opening never
        cuts a longer one short; True when this one moved the end (the first failure of an
        outage, or one that needs a longer pause), which is when a caller logs it."""
        until = self._clock() + (self._seconds if seconds is None else seconds)
        if until <= self._open_until:
            return False
        self._open_until = until
        return True
