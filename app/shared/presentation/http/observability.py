"""What every HTTP request leaves behind: its id (``X-Request-ID``, bound for its logs and
problem bodies), its RED metrics and one access-log line.

One pure-ASGI class for the three: each middleware layer costs a few microseconds on every
request (chapter 15). Outside every other layer but CORS and the proxy headers, so an answer
given by one of them (a 413, a 503 overloaded, the last-resort 500) is counted, logged and
carries the id.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable
from typing import Final

from starlette.types import ASGIApp, Message, Receive, Scope, Send
from structlog.stdlib import get_logger

from app.shared.application.correlation import request_id
from app.shared.presentation.http.metrics import method_label, route_template, tally
from app.shared.presentation.http.request_id import HEADER, request_id_of

_access_log = get_logger("app.access")
_QUIET_ROUTES: Final = frozenset({"/health/live", "/health/ready", "/metrics"})


class ObservabilityMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = method_label(scope["method"])
        value = request_id_of(scope)
        id_header = (HEADER, value.encode("latin-1"))
        status = 500

        # A plain function returning send's awaitable: no coroutine of its own per message.
        def send_with_id(message: Message) -> Awaitable[None]:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), id_header]
            return send(message)

        token = request_id.set(value)
        tally.started(method)
        started = time.perf_counter()
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = route_template(scope)
            tally.finished(method, route, status, elapsed)
            if route not in _QUIET_ROUTES:
                _access_log.info(
                    "request",
                    method=scope["method"],
                    path=scope["path"],
                    route=route,
                    status=status,
                    duration_ms=round(elapsed * 1000, 2),
                )
            request_id.reset(token)
