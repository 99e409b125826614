"""Load shedding: at most so many requests in one process at once; the next is answered 503 at
once instead of queuing.

Without a bound, an overloaded process (a slow database, a burst) queues requests for a database
connection for up to the pool's timeout each: every waiter waits nearly the whole timeout, and the
queue left when the cause ends takes longer still to drain, so requests keep failing after the
database is fast again. With a bound, the excess is refused in microseconds with 503 and
``Retry-After`` (a client or balancer retries elsewhere or later) and the queue stays short.
Probes and metrics are never shed: an overloaded process is still alive and must say so.
"""

from __future__ import annotations

from collections.abc import Iterable
from http import HTTPStatus
from typing import Final

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from app.shared.presentation.http.problems import problem

# An overload passes in about a second or it is not a burst: ask again then.
RETRY_AFTER: Final = "1"


class LoadSheddingMiddleware:
    def __init__(self, app: ASGIApp, *, max_in_flight: int, exempt: Iterable[str] = ()) -> None:
        self.app = app
        self.max_in_flight = max_in_flight  # added only when set (app/bootstrap/api.py)
        self.exempt = frozenset(exempt)
        # One event loop per process, and no await between the check and the count: no lock.
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.exempt:
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.max_in_flight:
            response = problem(
                HTTPStatus.SERVICE_UNAVAILABLE,
                code="overloaded",
                detail="The server is handling as many requests as it can; retry shortly.",
                request=Request(scope),
                headers={"Retry-After": RETRY_AFTER},
            )
            await response(scope, receive, send)
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1
