"""Errors that mean a dependency is briefly unreachable or overloaded, not that the code is
wrong: the API answers them with 503 and Retry-After (http/problems.py), a task retries them
with backoff (tasks.py). One list, so both entry points agree on what an outage is."""

from __future__ import annotations

from typing import Final

import asyncpg
from redis import exceptions as redis_errors
from sqlalchemy import exc as sqla_errors

TRANSIENT_ERRORS: Final[tuple[type[Exception], ...]] = (
    OSError,  # includes ConnectionRefusedError and TimeoutError, raw from asyncpg
    sqla_errors.OperationalError,
    sqla_errors.InterfaceError,
    sqla_errors.TimeoutError,  # pool exhausted
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.QueryCanceledError,  # the server's statement_timeout
    redis_errors.ConnectionError,
    redis_errors.TimeoutError,
)


def is_transient(
    error: BaseException,
    *,
    also: tuple[type[BaseException], ...] = (),
    itself: bool = True,
) -> bool:
    """Whether ``error``, or an error it wraps, is transient: one of TRANSIENT_ERRORS (or
    ``also``), or a database connection SQLAlchemy invalidated. Wrappers are looked through
    (SQLAlchemy's DBAPIError keeps the driver's error in ``orig``, others in ``__cause__``);
    ``itself=False`` judges only what ``error`` wraps, and its invalidated connection."""
    kinds = (*TRANSIENT_ERRORS, *also)
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, sqla_errors.DBAPIError) and current.connection_invalidated:
            return True
        if (itself or current is not error) and isinstance(current, kinds):
            return True
        current = getattr(current, "orig", None) or current.__cause__
    return False
