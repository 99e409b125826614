"""Starlette's CORS middleware, with two answers changed for origins it does not allow.

- A refused preflight is a 400 problem (code ``cors_preflight_refused``) saying what was refused,
  like every other error of the API; Starlette answers it in plain text.
- A foreign origin gets no CORS header at all: Starlette adds ``Access-Control-Allow-Credentials``
  and ``Access-Control-Expose-Headers`` to every answer that names an origin, and to refused
  preflights its allowed methods. Without ``Access-Control-Allow-Origin`` they grant nothing, but
  an answer should not advertise what it would grant to an origin it refuses.

The middleware is outermost (every answer, errors included, carries the headers), so a refused
preflight is answered before ObservabilityMiddleware gives the request its id: it makes its own.
"""

from __future__ import annotations

from http import HTTPStatus

from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from app.shared.application.correlation import request_id
from app.shared.presentation.http.problems import problem
from app.shared.presentation.http.request_id import new_request_id


class StrictCORSMiddleware(CORSMiddleware):
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "OPTIONS":
            headers = Headers(scope=scope)
            if "origin" in headers and "access-control-request-method" in headers:
                answer = self.preflight_response(request_headers=headers)
                if answer.status_code != HTTPStatus.OK:
                    answer = _refused(scope, bytes(answer.body).decode())
                await answer(scope, receive, send)
                return
        await super().__call__(scope, receive, send)

    async def send(self, message: Message, send: Send, request_headers: Headers) -> None:
        origin = request_headers.get("origin")
        if (
            message["type"] == "http.response.start"
            and origin is not None
            and not self.is_allowed_origin(origin=origin)
        ):
            MutableHeaders(scope=message).add_vary_header("Origin")
            await send(message)
            return
        await super().send(message, send, request_headers)


def _refused(scope: Scope, reason: str) -> Response:
    identifier = new_request_id()
    token = request_id.set(identifier)
    try:
        return problem(
            HTTPStatus.BAD_REQUEST,
            code="cors_preflight_refused",
            # Starlette's reason names what failed: "Disallowed CORS origin, method".
            detail=f"{reason}: this cross-origin request is not allowed.",
            request=Request(scope),
            headers={"X-Request-ID": identifier, "Vary": "Origin"},
        )
    finally:
        request_id.reset(token)
