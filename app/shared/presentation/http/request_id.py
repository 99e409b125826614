"""``X-Request-ID``: kept from the caller when it is plain, else a new one; bound for the
request's logs and problem bodies and returned on the response.

Pure ASGI on the raw header bytes: the generic middleware this replaces (asgi-correlation-id)
parsed and rebuilt the headers on every request, 10 µs of a 50 µs request (chapter 15).
"""

from __future__ import annotations

import re
from random import getrandbits
from typing import Final

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.shared.application.correlation import request_id

HEADER: Final = b"x-request-id"
# Accept upstream ids (load balancers, other services) only when they are short and plain, so a
# client cannot inject text into logs; anything else is replaced by a fresh id.
_ACCEPTABLE = re.compile(rb"[A-Za-z0-9._:-]{8,128}")


def new_request_id() -> str:
    """32 hex characters. An id, not a secret: from the process's PRNG (reseeded after fork),
    since os.urandom costs a system call per request."""
    return f"{getrandbits(128):032x}"  # nosec B311  # a request id, not a secret


def _from_headers(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == HEADER:
            return value.decode("latin-1") if _ACCEPTABLE.fullmatch(value) else None
    return None


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        value = _from_headers(scope) or new_request_id()
        header = (HEADER, value.encode("latin-1"))

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        token = request_id.set(value)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id.reset(token)
