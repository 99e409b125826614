"""RFC 9457 problem details, and the one place that maps errors to HTTP statuses.

Errors are mapped by *kind* (the shared base classes), so a context adds an error by subclassing a
kind, without touching this module. Infrastructure outages (PostgreSQL, Redis, raw OSError such
as connection refused) become 503 with Retry-After; anything else is a 500 that leaks nothing.
"""

from __future__ import annotations

import traceback
from http import HTTPStatus
from typing import Any, Final

import asyncpg
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sqla_errors
from starlette.exceptions import HTTPException
from starlette.requests import Request
from structlog.stdlib import get_logger

from app.shared.application.correlation import request_id
from app.shared.application.errors import (
    AuthenticationError,
    AuthorizationError,
    PaymentRequiredError,
    RateLimitedError,
    ServiceBusyError,
)
from app.shared.domain.errors import (
    ConflictError,
    DomainError,
    GoneError,
    InvalidValueError,
    NotFoundError,
)
from app.shared.presentation.http.routing import allowed_methods
from app.shared.presentation.transient import TRANSIENT_ERRORS, is_transient

PROBLEM_JSON: Final = "application/problem+json"
_RESERVED_MEMBERS: Final = frozenset(
    {"type", "title", "status", "detail", "instance", "code", "request_id", "request", "headers"}
)
RETRY_AFTER_SECONDS: Final = "5"

STATUS_BY_KIND: Final[tuple[tuple[type[DomainError], HTTPStatus], ...]] = (
    (InvalidValueError, HTTPStatus.UNPROCESSABLE_ENTITY),
    (NotFoundError, HTTPStatus.NOT_FOUND),
    (ConflictError, HTTPStatus.CONFLICT),
    (GoneError, HTTPStatus.GONE),
    (AuthenticationError, HTTPStatus.UNAUTHORIZED),
    (AuthorizationError, HTTPStatus.FORBIDDEN),
    (ServiceBusyError, HTTPStatus.SERVICE_UNAVAILABLE),
    (RateLimitedError, HTTPStatus.TOO_MANY_REQUESTS),
    (PaymentRequiredError, HTTPStatus.PAYMENT_REQUIRED),
)

_log = get_logger("app.errors")


def problem(
    status: HTTPStatus,
    *,
    code: str,
    detail: str,
    request: Request,
    headers: dict[str, str] | None = None,
    **extensions: Any,  # noqa: ANN401 - extension members are arbitrary JSON
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"urn:problem-type:{code}",
        "title": status.phrase,
        "status": int(status),
        "detail": detail,
        "instance": request.url.path,
        "code": code,
        "request_id": request_id.get(),
        **extensions,
    }
    return JSONResponse(body, status_code=int(status), headers=headers, media_type=PROBLEM_JSON)


def status_for(error: DomainError) -> HTTPStatus:
    for kind, status in STATUS_BY_KIND:
        if isinstance(error, kind):
            return status
    return HTTPStatus.BAD_REQUEST


async def _domain_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, DomainError)  # noqa: S101 - registered for DomainError only
    status = status_for(error)
    headers: dict[str, str] = {}
    if status is HTTPStatus.UNAUTHORIZED:
        headers["WWW-Authenticate"] = "Bearer"
    elif status is HTTPStatus.SERVICE_UNAVAILABLE:
        headers["Retry-After"] = RETRY_AFTER_SECONDS
    if isinstance(error, RateLimitedError):
        window = error.context.get("window_seconds", error.retry_after)
        headers |= {
            "Retry-After": str(error.retry_after),
            # IETF draft "RateLimit header fields for HTTP".
            "RateLimit-Policy": f"{error.limit};w={window}",
            "RateLimit": f"limit={error.limit}, remaining=0, reset={error.retry_after}",
        }
    return problem(
        status,
        code=error.code,
        detail=error.detail,
        request=request,
        headers=headers,
        # An error's context never overrides the members every problem has.
        **{key: value for key, value in error.context.items() if key not in _RESERVED_MEMBERS},
    )


async def _validation_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)  # noqa: S101
    # Never echo "input": it may hold a password.
    errors = [
        {"loc": list(item.get("loc", ())), "msg": item.get("msg", ""), "type": item.get("type", "")}
        for item in error.errors()
    ]
    return problem(
        HTTPStatus.UNPROCESSABLE_ENTITY,
        code="validation_error",
        detail="The request is not valid; see 'errors'.",
        request=request,
        errors=errors,
    )


async def _http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, HTTPException)  # noqa: S101
    status = HTTPStatus(error.status_code)
    headers = dict(error.headers or {})
    if status == HTTPStatus.METHOD_NOT_ALLOWED:
        headers["Allow"] = ", ".join(allowed_methods(request.scope))
    return problem(
        status,
        code=status.name.lower(),
        detail=str(error.detail) if error.detail else status.description,
        request=request,
        headers=headers,
    )


async def _unavailable(request: Request, error: Exception) -> JSONResponse:
    _log.warning("dependency_unavailable", error_type=type(error).__name__, error=str(error))
    return problem(
        HTTPStatus.SERVICE_UNAVAILABLE,
        code="dependency_unavailable",
        detail="A service this request needs is unavailable; retry shortly.",
        request=request,
        headers={"Retry-After": RETRY_AFTER_SECONDS},
    )


# SQLSTATEs for text PostgreSQL cannot store (NUL bytes, characters outside the encoding): the
# client's input, not our code, so a 422 wherever a field escaped its own validation.
UNSTORABLE_TEXT: Final = frozenset({"22021", "22P05"})


def _invalid_text(request: Request) -> JSONResponse:
    return problem(
        HTTPStatus.UNPROCESSABLE_ENTITY,
        code="invalid_text",
        detail="The request contains characters that cannot be stored (such as NUL).",
        request=request,
    )


async def _driver_error(request: Request, error: Exception) -> JSONResponse:
    """A raw asyncpg error (the readers send SQL through asyncpg, not SQLAlchemy): as a
    DBAPIError is, without the message, which may quote values."""
    assert isinstance(error, asyncpg.PostgresError)  # noqa: S101 - registered for it only
    if error.sqlstate in UNSTORABLE_TEXT:
        return _invalid_text(request)
    if is_transient(error):
        return await _unavailable(request, error)
    _log.error(
        "unhandled_database_error",
        path=request.url.path,
        error_type=type(error).__name__,
        sqlstate=error.sqlstate,
        stack="".join(traceback.format_tb(error.__traceback__)),
    )
    return _internal_error(request)


async def _database_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, sqla_errors.DBAPIError)  # noqa: S101
    if getattr(error.orig, "sqlstate", None) in UNSTORABLE_TEXT:
        return _invalid_text(request)
    if is_transient(error):
        return await _unavailable(request, error)
    # The driver's and PostgreSQL's messages quote values (the input that failed to parse, a
    # duplicate key), which may be personal data or secrets: log what kind of error, which
    # statement and where, never those messages (SQLAlchemy's own parameter list is hidden too).
    _log.error(
        "unhandled_database_error",
        path=request.url.path,
        # The adapter's class says little; the driver's own (its cause) names the problem.
        error_type=type(getattr(error.orig, "__cause__", None) or error.orig).__name__,
        sqlstate=getattr(error.orig, "sqlstate", None),
        statement=error.statement,
        stack="".join(traceback.format_tb(error.__traceback__)),
    )
    return _internal_error(request)


async def unexpected_error_problem(request: Request, error: Exception) -> JSONResponse:
    """The answer to an exception no handler claimed (EdgeMiddleware catches it), logged once:
    a 503 for an outage, else a 500 that leaks nothing.

    Starlette's own last-resort handler sits outside every middleware, so its 500 would carry no
    X-Request-ID, no security headers and would not be counted by the metrics."""
    if is_transient(error):
        return await _unavailable(request, error)
    _log.error("unhandled_error", exc_info=error, path=request.url.path)
    return _internal_error(request)


def _internal_error(request: Request) -> JSONResponse:
    return problem(
        HTTPStatus.INTERNAL_SERVER_ERROR,
        code="internal_error",
        detail="An unexpected error occurred; quote the request id when reporting it.",
        request=request,
    )


def register_problem_handlers(app: FastAPI) -> None:
    """Handlers for known errors; EdgeMiddleware answers everything else."""
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(sqla_errors.DBAPIError, _database_error)
    app.add_exception_handler(asyncpg.PostgresError, _driver_error)
    for error_type in TRANSIENT_ERRORS:
        app.add_exception_handler(error_type, _unavailable)
