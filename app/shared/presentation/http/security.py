"""What every request meets at the app's edge: a bound on its body, and the security headers on
its answer.

The body limit: a declared ``Content-Length`` over ``APP_HTTP_MAX_BODY_BYTES`` is answered 413 at
once, before any route reads a byte (the server never buffers the rest). A chunked body, whose
size nobody declares, is counted as it arrives and refused the moment it passes the limit. Every
413 is a problem+json body, whether or not the route would have read the body. FastAPI's own
``max_body_size`` answers plain text when the route does not read the body; the API promises
problem+json for every error.

The body must also arrive in time: ``APP_HTTP_BODY_TIMEOUT_SECONDS`` after the request came in,
a route still waiting for the rest of it gets a 408 problem and the connection is closed. uvicorn
has no such bound (its keep-alive timeout runs only between requests), so without it a client
could hold a connection and a task for as long as it liked by sending a body a byte at a time.

The headers suit a JSON API: nothing may sniff, frame, cache or embed its answers. A route that
sets its own ``Cache-Control`` keeps it. The interactive docs pages (development only, by default)
load Swagger UI and ReDoc from a CDN and run inline scripts, so their HTML is not given the
API's ``Content-Security-Policy``. ``Strict-Transport-Security`` goes only on answers to HTTPS
requests (the scheme the trusted proxy reported).

And the last resort: an exception no handler claimed is answered with a problem (500, or 503
for an outage; ``unexpected_error_problem``) that carries these headers, when no answer has begun;
once one has, the server drops the connection.

One pure-ASGI class for all three: each middleware layer costs a few microseconds on every
request (chapter 15).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable
from http import HTTPStatus
from typing import Final

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.shared.presentation.http.problems import problem, unexpected_error_problem

SECURITY_HEADERS: Final[tuple[tuple[bytes, bytes], ...]] = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
)
CONTENT_SECURITY_POLICY: Final = (
    b"content-security-policy",
    b"default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
)
NO_STORE: Final = (b"cache-control", b"no-store")
HSTS: Final = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")


class BodyTooLargeError(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(
            HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
            detail=f"The request body is larger than {limit} bytes.",
        )


class BodyTimeoutError(HTTPException):
    def __init__(self, seconds: float) -> None:
        super().__init__(
            HTTPStatus.REQUEST_TIMEOUT,
            detail=f"The request body did not arrive within {seconds:g} seconds.",
            # The rest of the body is not read: the connection cannot be reused.
            headers={"Connection": "close"},
        )


def _body_headers(scope: Scope) -> tuple[int | None, bool]:
    """The declared length (None when absent or unreadable) and whether the body is chunked."""
    length: int | None = None
    chunked = False
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                length = int(value)
            except ValueError:
                length = None
        elif name == b"transfer-encoding":
            chunked = True
    return length, chunked


class EdgeMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        docs_paths: Iterable[str],
        body_timeout: float = 30.0,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.body_timeout = body_timeout
        self.docs_paths = frozenset(docs_paths)
        # The headers each answer gets, by (docs page, HTTPS): built once, not per request.
        self.extra_headers = {
            (docs, https): (*SECURITY_HEADERS, *(() if docs else (CONTENT_SECURITY_POLICY,)))
            + ((HSTS,) if https else ())
            for docs in (False, True)
            for https in (False, True)
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = self.extra_headers[scope["path"] in self.docs_paths, scope.get("scheme") == "https"]
        started = False

        # A plain function returning send's awaitable: no coroutine of its own per message.
        def send_with_headers(message: Message) -> Awaitable[None]:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = _secured(message.get("headers", ()), extra)
            return send(message)

        length, chunked = _body_headers(scope)
        limit = self.max_body_bytes
        if length is not None and length > limit:
            await _too_large(limit, scope, receive, send_with_headers)
            return
        if chunked:
            receive = _counted(receive, limit)
        if chunked or length:
            receive = _timed(receive, self.body_timeout)
        try:
            await self.app(scope, receive, send_with_headers)
        except Exception as error:
            if started:  # too late for a clean answer; the server drops the connection
                raise
            response = await unexpected_error_problem(Request(scope), error)
            await response(scope, receive, send_with_headers)


async def _too_large(limit: int, scope: Scope, receive: Receive, send: Send) -> None:
    error = BodyTooLargeError(limit)
    response = problem(
        HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
        code="request_entity_too_large",
        detail=str(error.detail),
        request=Request(scope),
        # The rest of the body is not read: the connection cannot be reused.
        headers={"Connection": "close"},
    )
    await response(scope, receive, send)


def _secured(
    headers: Iterable[tuple[bytes, bytes]], extra: tuple[tuple[bytes, bytes], ...]
) -> list[tuple[bytes, bytes]]:
    """``headers`` and ``extra``, with ``no-store`` unless the route set its own Cache-Control."""
    secured = list(headers)
    for name, _ in secured:
        if name.lower() == b"cache-control":
            break
    else:  # no Cache-Control of the route's own
        secured.append(NO_STORE)
    secured.extend(extra)
    return secured


def _counted(receive: Receive, limit: int) -> Receive:
    received = 0

    async def counted() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise BodyTooLargeError(limit)
        return message

    return counted


def _timed(receive: Receive, seconds: float) -> Receive:
    """The whole body within ``seconds`` of the request; after its last chunk, ``receive`` is
    left alone (a streamed answer waits on it for the client's disconnect)."""
    deadline = asyncio.get_running_loop().time() + seconds
    complete = False

    async def timed() -> Message:
        nonlocal complete
        if complete:
            return await receive()
        try:
            async with asyncio.timeout_at(deadline):
                message = await receive()
        except TimeoutError:
            raise BodyTimeoutError(seconds) from None
        complete = message["type"] != "http.request" or not message.get("more_body", False)
        return message

    return timed
