"""The route class of every router: Dishka injection, with the request scope opened per route.

Dishka's own FastAPI setup opens a request scope in a middleware, for every request: 12 µs of a
50 µs request that needs nothing from the container (a liveness probe, a 404, /metrics). Here
the scope is opened only by routes whose endpoint asks for a dependency, around the whole of the
route's handling, so a streamed response (an export's download reads its chunks through the
request's session) is sent before the scope, and the session, close.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dishka import AsyncContainer
from dishka import Scope as DIScope
from dishka.integrations.fastapi import inject
from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.types import Receive, Scope, Send


def use_container(app: FastAPI, container: AsyncContainer) -> None:
    """Where InjectedRoute finds the app-scope container (the name Dishka's helpers read)."""
    app.state.dishka_container = container


class InjectedRoute(APIRoute):
    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:  # noqa: ANN401
        injected = inject(endpoint)
        # Dishka returns the endpoint itself when it has no dependency to inject.
        self.opens_scope = injected is not endpoint
        super().__init__(path, injected, **kwargs)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.opens_scope:
            await super().handle(scope, receive, send)
            return
        request = Request(scope, receive, send)
        container: AsyncContainer = scope["app"].state.dishka_container
        async with container({Request: request}, scope=DIScope.REQUEST) as request_container:
            # Dishka's injection wrapper reads the request's container from request.state.
            request.state.dishka_container = request_container
            await super().handle(scope, receive, send)
