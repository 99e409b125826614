"""The one place errors become HTTP statuses: status_for, and is_transient for the 503s."""

from __future__ import annotations

import json
from http import HTTPStatus

import asyncpg
import pytest
from redis import exceptions as redis_errors
from sqlalchemy import exc as sqla_errors
from starlette.requests import Request

from app.identity.application.errors import (
    InvalidCredentialsError,
    RoleNotHeldError,
    SessionRevokedError,
    WrongPasswordError,
)
from app.identity.domain.errors import (
    EmailTakenError,
    InvalidEmailError,
    InvalidUsernameError,
    RoleNotAssignableError,
    UsernameTakenError,
    UserNotFoundError,
    WeakPasswordError,
)
from app.shared.application.errors import (
    AuthenticationError,
    AuthorizationError,
    InvalidCursorError,
    ServiceBusyError,
)
from app.shared.domain.errors import (
    ConflictError,
    DomainError,
    GoneError,
    InvalidValueError,
    NotFoundError,
)
from app.shared.presentation.http.problems import (
    _domain_error,
    _driver_error,
    status_for,
)
from app.shared.presentation.transient import is_transient


@pytest.mark.parametrize(
    ("error_type", "status"),
    [
        (InvalidValueError, HTTPStatus.UNPROCESSABLE_ENTITY),
        (NotFoundError, HTTPStatus.NOT_FOUND),
        (ConflictError, HTTPStatus.CONFLICT),
        (AuthenticationError, HTTPStatus.UNAUTHORIZED),
        (AuthorizationError, HTTPStatus.FORBIDDEN),
        (ServiceBusyError, HTTPStatus.SERVICE_UNAVAILABLE),
        (GoneError, HTTPStatus.GONE),
    ],
)
def test_status_for_maps_each_error_kind(error_type: type[DomainError], status: HTTPStatus) -> None:
    assert status_for(error_type("detail")) is status


@pytest.mark.parametrize(
    ("error_type", "status"),
    [
        (InvalidUsernameError, HTTPStatus.UNPROCESSABLE_ENTITY),
        (InvalidEmailError, HTTPStatus.UNPROCESSABLE_ENTITY),
        (WeakPasswordError, HTTPStatus.UNPROCESSABLE_ENTITY),
        (RoleNotAssignableError, HTTPStatus.UNPROCESSABLE_ENTITY),
        (InvalidCursorError, HTTPStatus.UNPROCESSABLE_ENTITY),
        (UserNotFoundError, HTTPStatus.NOT_FOUND),
        (UsernameTakenError, HTTPStatus.CONFLICT),
        (EmailTakenError, HTTPStatus.CONFLICT),
        (RoleNotHeldError, HTTPStatus.CONFLICT),
        (InvalidCredentialsError, HTTPStatus.UNAUTHORIZED),
        (SessionRevokedError, HTTPStatus.UNAUTHORIZED),
        (WrongPasswordError, HTTPStatus.FORBIDDEN),
    ],
)
def test_status_for_maps_concrete_errors_by_their_kind(
    error_type: type[DomainError], status: HTTPStatus
) -> None:
    assert status_for(error_type("detail")) is status


def test_status_for_a_domain_error_of_no_kind_is_bad_request() -> None:
    assert status_for(DomainError("detail")) is HTTPStatus.BAD_REQUEST

    class OddError(DomainError):
        code = "odd"

    assert status_for(OddError("detail")) is HTTPStatus.BAD_REQUEST


def test_every_concrete_error_has_a_distinct_code() -> None:
    errors = [
        InvalidUsernameError,
        InvalidEmailError,
        WeakPasswordError,
        RoleNotAssignableError,
        InvalidCursorError,
        UserNotFoundError,
        UsernameTakenError,
        EmailTakenError,
        RoleNotHeldError,
        InvalidCredentialsError,
        SessionRevokedError,
        WrongPasswordError,
    ]
    assert len({error.code for error in errors}) == len(errors)


def wrapped(cause: BaseException) -> RuntimeError:
    error = RuntimeError("wrapper")
    error.__cause__ = cause
    return error


@pytest.mark.parametrize(
    "error",
    [
        OSError("network unreachable"),
        ConnectionRefusedError(111, "Connection refused"),
        TimeoutError(),
        wrapped(ConnectionRefusedError(111, "Connection refused")),
        wrapped(wrapped(ConnectionRefusedError())),
        sqla_errors.OperationalError("SELECT 1", {}, Exception("server closed the connection")),
        sqla_errors.InterfaceError("SELECT 1", {}, Exception("connection is closed")),
        sqla_errors.TimeoutError("QueuePool limit reached"),
        sqla_errors.DBAPIError("SELECT 1", {}, ConnectionRefusedError()),
        sqla_errors.DBAPIError("SELECT 1", {}, Exception("gone"), connection_invalidated=True),
        asyncpg.TooManyConnectionsError("too many"),
        asyncpg.CannotConnectNowError("starting up"),
        asyncpg.QueryCanceledError("canceling statement due to statement timeout"),
        redis_errors.ConnectionError("redis down"),
        redis_errors.TimeoutError("redis slow"),
    ],
    ids=lambda error: type(error).__name__,
)
def test_is_unavailable_recognises_outages(error: BaseException) -> None:
    assert is_transient(error)


@pytest.mark.parametrize(
    "error",
    [
        ValueError("bug"),
        RuntimeError("bug"),
        wrapped(KeyError("bug")),
        sqla_errors.IntegrityError("INSERT", {}, Exception("duplicate key")),
        sqla_errors.ProgrammingError("SELEC 1", {}, Exception("syntax error")),
        DomainError("not an outage"),
    ],
    ids=lambda error: type(error).__name__,
)
def test_is_unavailable_rejects_code_errors(error: BaseException) -> None:
    assert not is_transient(error)


def test_is_unavailable_terminates_on_a_cause_cycle() -> None:
    first, second = RuntimeError("a"), RuntimeError("b")
    first.__cause__, second.__cause__ = second, first
    assert not is_transient(first)


async def test_an_errors_context_never_overrides_the_members_every_problem_has() -> None:
    error = ConflictError("detail", status="queued", code="sneaky", current_status="queued")
    request = Request({"type": "http", "method": "GET", "path": "/x", "headers": []})
    response = await _domain_error(request, error)
    body = json.loads(bytes(response.body))
    assert response.status_code == body["status"] == 409
    assert body["code"] == "conflict"
    assert body["current_status"] == "queued"


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.exceptions.CharacterNotInRepertoireError('invalid byte sequence for "UTF8": 0x00'),
        asyncpg.exceptions.UntranslatableCharacterError("no equivalent in the encoding"),
    ],
)
async def test_text_postgresql_cannot_store_is_a_422_from_a_raw_read_too(
    error: asyncpg.PostgresError,
) -> None:
    # The readers query through asyncpg, not SQLAlchemy: a NUL reached one as a 500.
    request = Request({"type": "http", "method": "GET", "path": "/x", "headers": []})
    response = await _driver_error(request, error)
    body = json.loads(bytes(response.body))
    assert (response.status_code, body["code"]) == (422, "invalid_text")
    assert "0x00" not in body["detail"]


async def test_any_other_raw_driver_error_is_a_500_that_quotes_nothing() -> None:
    # Its log record is test_sql_errors_hide_values.py's business.
    error = asyncpg.exceptions.InvalidTextRepresentationError('invalid input: "secret@example.com"')
    request = Request({"type": "http", "method": "GET", "path": "/x", "headers": []})
    response = await _driver_error(request, error)
    assert response.status_code == 500
    assert "secret@example.com" not in bytes(response.body).decode()
