"""Which errors a task retries: a database connection lost mid-operation is transient even
when SQLAlchemy hands it over as a plain DBAPIError (make faults, a PostgreSQL restart)."""

from __future__ import annotations

import asyncpg
import pytest
from fastapi import FastAPI
from sqlalchemy import exc as sqla_errors

from app.shared.presentation.http.problems import register_problem_handlers
from app.shared.presentation.tasks import lost_connection, retrying
from app.shared.presentation.transient import TRANSIENT_ERRORS


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


def test_a_task_retries_exactly_what_the_api_answers_with_503() -> None:
    # One definition (app/shared/presentation/transient.py): an outage for a request is an
    # outage for a task, a statement timeout included.
    assert retrying(3)["autoretry_for"] == TRANSIENT_ERRORS
    assert asyncpg.QueryCanceledError in TRANSIENT_ERRORS
    app = FastAPI()
    register_problem_handlers(app)
    assert set(TRANSIENT_ERRORS) <= set(app.exception_handlers)
