"""The ASGI application factory (``gunicorn 'app.bootstrap.api:create_app()'``)."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Final

from dishka import Provider, make_async_container
from dishka.integrations.fastapi import FastapiProvider
from fastapi import FastAPI
from opentelemetry.sdk.trace.export import SpanExporter
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from app.bootstrap import health
from app.bootstrap.build_info import publish_build_info
from app.bootstrap.di.catalog import CatalogProviderSet
from app.bootstrap.di.identity import IdentityProviderSet
from app.bootstrap.di.operations import OperationsProviderSet
from app.bootstrap.di.ordering import OrderingProviderSet
from app.bootstrap.di.platform import PlatformProvider
from app.bootstrap.logging import configure_logging
from app.bootstrap.mapping import map_all
from app.bootstrap.settings import Settings, load_settings
from app.bootstrap.telemetry import Tracing
from app.catalog.presentation.http import products_router
from app.identity.presentation.http import auth_router, users_router
from app.operations.presentation.http import dead_letters_router
from app.ordering.presentation.http import exports_router, orders_router
from app.shared.infrastructure.cache import NearCache, NearResponses
from app.shared.infrastructure.cache_invalidations import InvalidationListener
from app.shared.infrastructure.readiness import ReadinessChecker
from app.shared.presentation.http.cors import StrictCORSMiddleware
from app.shared.presentation.http.metrics import flush_request_metrics, metrics_endpoint
from app.shared.presentation.http.observability import ObservabilityMiddleware
from app.shared.presentation.http.openapi import (
    operation_id,
    with_body_problems,
    with_unavailable_problem,
)
from app.shared.presentation.http.problems import register_problem_handlers
from app.shared.presentation.http.response_cache import use_response_cache
from app.shared.presentation.http.routing import include_context, use_container
from app.shared.presentation.http.security import EdgeMiddleware
from app.shared.presentation.http.shedding import LoadSheddingMiddleware

# Probes and metrics answer however loaded the process is: an overloaded process is alive.
NEVER_SHED: Final = ("/health/live", "/health/ready", "/metrics")


def create_app(
    settings: Settings | None = None,
    *,
    providers: tuple[Provider, ...] = (),
    span_exporter: SpanExporter | None = None,
) -> FastAPI:
    """Build the API. ``providers`` override the default wiring (tests); nothing here does I/O."""
    settings = settings or load_settings()
    configure_logging(level=settings.log.level, json_format=settings.log.format == "json")
    map_all()
    tracing = Tracing.from_env(settings.app.name, exporter=span_exporter)
    container = make_async_container(
        PlatformProvider(),
        IdentityProviderSet(),
        CatalogProviderSet(),
        OrderingProviderSet(),
        OperationsProviderSet(),
        FastapiProvider(),
        *providers,
        context={Settings: settings, Tracing: tracing},
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        publish_build_info(settings.app)
        # Reads the migrations' heads now, at start-up, rather than on the first probe.
        await container.get(ReadinessChecker)
        if settings.cache.local_seconds > 0:
            # The near cache answers only while this listener hears from Redis; subscribed now,
            # it can answer the first requests (docs/12-redis.md).
            (await container.get(InvalidationListener)).start()
            use_response_cache(app.state, NearResponses(await container.get(NearCache)))
        # Everything built so far lives as long as the process: out of the collector's sight,
        # so a full collection walks only what requests create (fewer, shorter GC pauses).
        gc.collect()
        gc.freeze()
        yield
        flush_request_metrics()
        await container.close()
        tracing.shutdown()

    docs = settings.http.docs_enabled
    if docs is None:
        docs = settings.app.env == "development"
    app = FastAPI(
        title="fastapi-platform",
        version=settings.app.version,
        summary="Clean Architecture, CQRS and DDD on FastAPI, PostgreSQL and Redis.",
        lifespan=lifespan,
        root_path=settings.http.root_path,
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
        openapi_url="/openapi.json" if docs else None,
        generate_unique_id_function=operation_id,
        swagger_ui_parameters={"persistAuthorization": True},
        # FastAPI's own OpenTelemetry stays off: Tracing (app/bootstrap/telemetry.py) owns the
        # spans and /metrics the request metrics. Left on, it looks up the global providers on
        # every request (environment reads included) only to find none configured.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    register_problem_handlers(app)
    with_body_problems(app)
    with_unavailable_problem(app, exempt=("/health/live",))  # no I/O: never a 503
    include_context(app, health.router)
    if settings.http.metrics_on_api_port:
        app.add_route("/metrics", metrics_endpoint, include_in_schema=False)
    include_context(app, auth_router.router)
    include_context(app, users_router.router)
    include_context(app, products_router.router)
    include_context(app, orders_router.router)
    include_context(app, exports_router.router)
    include_context(app, dead_letters_router.router)

    # Dishka's request scope is opened by the routes that need it (InjectedRoute), not here.
    use_container(app, container)
    # Added innermost first. Outermost to innermost: CORS (so every answer, errors included,
    # carries its headers), proxy headers, then request id, metrics and access log, then the body
    # limit, security headers and last-resort 500 (so a 413, a 503 overloaded or a 500 is
    # counted, logged and carries them), then load shedding.
    if settings.http.max_in_flight:  # off by default: no layer at all on the hot path then
        app.add_middleware(
            LoadSheddingMiddleware, max_in_flight=settings.http.max_in_flight, exempt=NEVER_SHED
        )
    app.add_middleware(
        EdgeMiddleware,
        max_body_bytes=settings.http.max_body_bytes,
        body_timeout=settings.http.body_timeout_seconds,
        docs_paths=[
            p for p in (app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url) if p
        ],
    )
    app.add_middleware(ObservabilityMiddleware)
    # The real client address and scheme, from trusted proxies only.
    app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.http.trusted_proxies)
    if settings.http.cors_origins:
        app.add_middleware(
            StrictCORSMiddleware,
            allow_origins=settings.http.cors_origins,
            allow_credentials=True,
            allow_methods=["*"],
            allow_headers=["*"],
            expose_headers=["X-Request-ID", "Retry-After"],
        )
    tracing.instrument_app(app)
    return app
