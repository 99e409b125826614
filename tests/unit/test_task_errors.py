"""Which errors a task retries: a database connection lost mid-operation is transient even
when SQLAlchemy hands it over as a plain DBAPIError (make faults, a PostgreSQL restart)."""

from __future__ import annotations

import asyncpg
import pytest
from sqlalchemy import exc as sqla_errors

from app.shared.presentation.tasks import lost_connection


def _wrapped(cause: BaseException, *, invalidated: bool = False) -> sqla_errors.DBAPIError:
    adapted = Exception("the dialect's adapted error")  # SQLAlchemy's asyncpg adapter, in short
    adapted.__cause__ = cause
    return sqla_errors.DBAPIError("SELECT 1", None, adapted, connection_invalidated=invalidated)


@pytest.mark.parametrize(
    "cause",
    [
        asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
        asyncpg.InternalClientError("cannot switch to state 15; another operation is in progress"),
        asyncpg.AdminShutdownError("terminating connection due to administrator command"),
        ConnectionResetError("reset by peer"),
    ],
)
def test_a_connection_lost_inside_a_plain_dbapi_error_is_transient(cause: BaseException) -> None:
    assert lost_connection(_wrapped(cause))


def test_an_invalidated_connection_is_transient() -> None:
    assert lost_connection(_wrapped(Exception("whatever"), invalidated=True))


def test_a_constraint_violation_is_not() -> None:
    assert not lost_connection(_wrapped(asyncpg.UniqueViolationError("duplicate key")))
    assert not lost_connection(ValueError("a bug"))
