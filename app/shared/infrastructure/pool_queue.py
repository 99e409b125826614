"""When to stop queuing for a database connection: the pool's standing queue.

A pool that runs dry makes callers wait, each up to ``APP_DB_POOL_TIMEOUT``. A burst is what
that wait is for: it passes, the queue empties, everyone is served. When the database itself is
slow, the queue never empties; every newcomer waits nearly the whole timeout, and once the
database is fast again the backlog takes seconds to clear, so requests keep failing long after
the cause has gone (chapter 13, the slow-PostgreSQL fault).

The rule (the controlled-delay idea, as Facebook's "Fail at Scale" applies it to server queues):
a caller joining a queue that has not been empty for ``interval`` waits at most the short
``busy_timeout``; any other caller waits the pool's full timeout. The backlog is then never
more than ``busy_timeout`` deep, which is also how long it takes to clear.
"""

from __future__ import annotations


class StandingQueue:
    """Counts the callers waiting for a connection and remembers when there were none."""

    def __init__(self, interval: float) -> None:
        self._interval = interval
        self._waiting = 0
        self._empty_at = 0.0

    def join(self, now: float) -> bool:
        """A caller starts waiting; True when it joins a standing queue."""
        if self._waiting == 0:
            self._empty_at = now
        self._waiting += 1
        return now - self._empty_at > self._interval

    def leave(self, now: float) -> None:
        """A caller has its connection, or gave up."""
        self._waiting -= 1
        if self._waiting == 0:
            self._empty_at = now
