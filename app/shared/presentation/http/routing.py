"""The router and route classes of every HTTP router, and how the app serves them.

PrefixedRouter and include_context: since FastAPI 0.137 an included router stays a node of the
app's route tree. Served through FastAPI's node, a request was matched against every route of
every router included before the one that serves it (about 1.6 µs a route, 67 µs to reach the
last of our 43 routes), and the serving node matched its routes twice, with bookkeeping in the
scope around each candidate: 10 to 13 µs more than a route declared on the app (chapter 15).
Each of our routers has one static prefix that all of its routes start with, so
``include_context`` includes it as usual and puts a ContextRoutes node in the place of FastAPI's:
a path outside the prefix is "no match" at once, and inside it the router's own routes are
matched once and the one that matched is called, as for a route declared on the app. The node
is still an included router to everything that reads the tree (OpenAPI, OpenTelemetry's route
names, url_path_for), and a router is included with no options of its own, so what those see is
what is served.

InjectedRoute: Dishka's own FastAPI setup opens a request scope in a middleware, for every
request: 12 µs of a 50 µs request that needs nothing from the container (a liveness probe, a
404). Here the scope is opened only by routes whose endpoint asks for a dependency, around the
whole of the route's handling, so a streamed response (an export's download reads its chunks
through the request's session) is sent before the scope, and the session, close.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dishka import AsyncContainer
from dishka import Scope as DIScope
from dishka.integrations.fastapi import inject
from fastapi import FastAPI

# Private: the node class of FastAPI's route tree, which ContextRoutes must be to be read as one.
from fastapi.routing import APIRoute, APIRouter, _IncludedRouter
from starlette._utils import get_route_path
from starlette.requests import Request
from starlette.routing import BaseRoute, Match
from starlette.types import Receive, Scope, Send

# The methods a 405 answer may list (HEAD and OPTIONS are not served by the API's routes).
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def allowed_methods(scope: Scope) -> list[str]:
    """Every method some route serves on the request's path. Starlette's 405 names only the
    methods of the first route that matched the path, while a path often has a route per method
    (GET and POST /products). Only a 405 asks, so the walk's cost does not matter."""
    routes = scope["app"].router.routes
    return [
        method
        for method in METHODS
        if any(route.matches({**scope, "method": method})[0] == Match.FULL for route in routes)
    ]


def use_container(app: FastAPI, container: AsyncContainer) -> None:
    """Where InjectedRoute finds the app-scope container (the name Dishka's helpers read)."""
    app.state.dishka_container = container


class InjectedRoute(APIRoute):
    """DishkaRoute, but the request scope is opened here rather than by a middleware."""

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


class PrefixedRouter(APIRouter):
    """A bounded context's routes under one static prefix, injected by Dishka."""

    def __init__(self, *, prefix: str, **kwargs: Any) -> None:  # noqa: ANN401
        if not prefix or "{" in prefix:
            raise ValueError(f"a static prefix is required, got {prefix!r}")
        super().__init__(prefix=prefix, route_class=InjectedRoute, **kwargs)

    def add_route(self, path: str, *_: Any, **__: Any) -> None:  # noqa: ANN401
        # FastAPI gives a plain Starlette route no prefix (it would be served outside it), and
        # ContextRoutes serves only what starts with the prefix and finds the route an APIRoute
        # records in the scope: refused rather than served differently.
        raise TypeError(f"{self.prefix}{path}: a PrefixedRouter takes API routes only")


class ContextRoutes(_IncludedRouter):
    """A PrefixedRouter included in the app, whose own routes serve its requests."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        router = self.original_router
        if scope["type"] != "http" or not get_route_path(scope).startswith(router.prefix):
            return Match.NONE, {}
        partial: Scope | None = None
        for route in router.routes:
            match, child_scope = route.matches(scope)
            if match is Match.FULL:
                return match, child_scope
            if match is Match.PARTIAL and partial is None:
                partial = child_scope  # the path is served, not this method: a 405 unless
        if partial is not None:  # another route serves the method
            return Match.PARTIAL, partial
        return Match.NONE, {}

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The route that matched, as an APIRoute's match records it in the scope.
        route: BaseRoute = scope["route"]
        await route.handle(scope, receive, send)


def include_context(app: FastAPI, router: PrefixedRouter) -> None:
    """``app.include_router(router)``, served by a ContextRoutes node in place of FastAPI's."""
    app.include_router(router)
    node = app.router.routes[-1]
    if not isinstance(node, _IncludedRouter) or node.original_router is not router:
        # A FastAPI upgrade changed how routers are included: this must be looked at again.
        raise TypeError(f"include_router appended {node!r}, not the router's node")
    app.router.routes[-1] = ContextRoutes(
        original_router=router, include_context=node.include_context
    )
