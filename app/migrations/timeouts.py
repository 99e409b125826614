"""Timeouts for schema migrations, so that a migration never queues traffic behind it.

A DDL statement that waits for its lock (``ALTER TABLE`` needs ACCESS EXCLUSIVE) blocks every
later query on that table, even plain reads, until it gets the lock and finishes. The migration
environment (env.py) therefore sets a short ``lock_timeout`` and a bounded ``statement_timeout``
on its session, retries a lock timeout a few times with a growing pause, and then fails with the
revision and the session that held the lock named. A revision that needs other limits (an index
built CONCURRENTLY on a large table) calls ``set_timeouts`` at the top of its ``upgrade()``;
its limits hold until that revision ends.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from alembic import op
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

if TYPE_CHECKING:
    from sqlalchemy import Connection

# SQLSTATE lock_not_available (a lock_timeout) and query_canceled (a statement_timeout, or a
# cancel request: the message tells them apart).
LOCK_NOT_AVAILABLE = "55P03"
QUERY_CANCELED = "57014"
_MAX_RETRY_DELAY = 30.0


@dataclass(frozen=True, slots=True)
class Timeouts:
    lock_timeout_ms: int
    statement_timeout_ms: int

    def statements(self) -> list[str]:
        """Session-level SETs: they outlive each revision's transaction and hold inside an
        autocommit block (CREATE INDEX CONCURRENTLY) too."""
        return [
            f"SET lock_timeout = '{self.lock_timeout_ms}ms'",
            f"SET statement_timeout = '{self.statement_timeout_ms}ms'",
        ]


def set_timeouts(
    *, lock_timeout_ms: int | None = None, statement_timeout_ms: int | None = None
) -> None:
    """This revision's own limits in place of the environment's, until the revision ends (the
    environment sets its defaults again after each revision). Call it first in ``upgrade()``
    (or ``downgrade()``); ``--sql`` output shows it as ``SELECT set_config(...)``."""
    for name, value in (
        ("lock_timeout", lock_timeout_ms),
        ("statement_timeout", statement_timeout_ms),
    ):
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            msg = f"{name}_ms must be a positive number of milliseconds, not {value!r}"
            raise ValueError(msg)
        # set_config(..., false) is SET for the session, with the value bound, not spliced in.
        op.execute(
            text("SELECT set_config(:name, :value, false)").bindparams(
                name=name, value=f"{value}ms"
            )
        )


def retry_delay(attempt: int, first: float) -> float:
    """Pause before retry ``attempt`` (1, 2, ...): doubling from ``first``, at most 30 s."""
    return min(first * 2.0 ** (attempt - 1), _MAX_RETRY_DELAY)


Kind = Literal["lock", "statement"]


def timeout_kind(error: BaseException) -> Kind | None:
    """``lock`` for a lock_timeout, ``statement`` for a statement_timeout, else None."""
    if not isinstance(error, DBAPIError):
        return None
    sqlstate = getattr(error.orig, "sqlstate", None) or getattr(error.orig, "pgcode", None)
    if sqlstate == LOCK_NOT_AVAILABLE:
        return "lock"
    if sqlstate == QUERY_CANCELED and "statement timeout" in str(error.orig):
        return "statement"
    return None


class MigrationTimeoutError(RuntimeError):
    """A migration gave up waiting (lock) or running (statement): the message says which
    revision, which statement, and who held the lock."""


_BLOCKERS = text(
    """
    SELECT a.pid, a.application_name, a.usename, a.state, l.mode, c.relname,
           coalesce(extract(epoch FROM now() - a.xact_start)::int, 0) AS xact_seconds,
           left(regexp_replace(a.query, '\\s+', ' ', 'g'), 160) AS query
    FROM pg_locks AS l
    JOIN pg_stat_activity AS a ON a.pid = l.pid
    JOIN pg_class AS c ON c.oid = l.relation
    WHERE l.granted AND l.locktype = 'relation' AND l.pid <> pg_backend_pid()
      AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
      AND c.relname = ANY(:names)
    ORDER BY a.xact_start NULLS LAST, a.pid, c.relname
    """
)


def describe_blockers(connection: Connection, statement: str | None) -> str:
    """Who holds locks, right now, on the relations the failed statement names: read from
    pg_locks and pg_stat_activity after the timeout (the wait itself is over by then)."""
    names = sorted(
        {word.lower() for word in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", statement or "")}
    )
    if not names:
        return "No relation is named in the statement"
    try:
        rows = connection.execute(_BLOCKERS, {"names": names}).all()
        connection.rollback()
    except DBAPIError as error:  # the diagnosis must not hide the timeout it explains
        connection.rollback()
        return f"The locks could not be read ({type(error.orig).__name__})"
    if not rows:
        return "No other session holds a lock on those tables any more (the blocker has ended)"
    holders = [
        f"pid {row.pid} ({row.application_name or 'no application_name'}, user {row.usename}, "
        f"{row.state}, transaction open {row.xact_seconds} s) holds {row.mode} on {row.relname}; "
        f"its query: {row.query}"
        for row in rows
    ]
    return "Blocked by " + "; ".join(holders)


def first_line(statement: str | None, limit: int = 200) -> str:
    flat = " ".join((statement or "").split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."
