"""OpenTelemetry tracing, configured only by the standard ``OTEL_*`` variables.

Tracing is off unless an exporter is named (``OTEL_TRACES_EXPORTER=otlp|console``) or an OTLP
endpoint is set, and ``OTEL_SDK_DISABLED`` is not true. It is set up in ``create_app()``, which
gunicorn runs in each worker after fork (no ``preload_app``): span processors' threads never
cross a fork.
"""

from __future__ import annotations

import os

from fastapi import FastAPI
from opentelemetry.sdk.resources import SERVICE_NAME, OTELResourceDetector, Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
)
from sqlalchemy.ext.asyncio import AsyncEngine

_NOT_TRACED = "health/live,health/ready,metrics"


def tracing_requested() -> bool:
    if os.environ.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return False
    exporter = os.environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporter:
        return exporter != "none"
    return bool(
        os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )


def _exporter_from_env() -> SpanExporter:
    kind = os.environ.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower()
    if kind == "console":
        return ConsoleSpanExporter()
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter  # noqa: PLC0415

    return OTLPSpanExporter()


def resource_from_env(default_service_name: str) -> Resource:
    """``OTEL_RESOURCE_ATTRIBUTES`` and ``OTEL_SERVICE_NAME`` as the SDK reads them, with
    ``default_service_name`` only when neither names the service.

    ``Resource.create(attributes)`` lets its argument win over the environment, so the service
    names the chart sets per component (``OTEL_SERVICE_NAME``) were ignored before this.
    """
    if OTELResourceDetector().detect().attributes.get(SERVICE_NAME):
        return Resource.create()
    return Resource.create({SERVICE_NAME: default_service_name})


class Tracing:
    """Owns the tracer provider of one process; ``None`` provider means tracing is off."""

    def __init__(self, provider: TracerProvider | None) -> None:
        self.provider = provider
        self._engine_instrumented = False

    @property
    def enabled(self) -> bool:
        return self.provider is not None

    @classmethod
    def from_env(cls, service_name: str, exporter: SpanExporter | None = None) -> Tracing:
        if exporter is None and not tracing_requested():
            return cls(None)
        provider = TracerProvider(resource=resource_from_env(service_name))
        processor: SpanProcessor = (
            SimpleSpanProcessor(exporter)
            if exporter is not None
            else BatchSpanProcessor(_exporter_from_env())
        )
        provider.add_span_processor(processor)
        from opentelemetry.instrumentation.celery import CeleryInstrumentor  # noqa: PLC0415
        from opentelemetry.instrumentation.redis import RedisInstrumentor  # noqa: PLC0415

        RedisInstrumentor().instrument(tracer_provider=provider)
        # Publishing spans carry their context in the task headers; the worker continues it, so
        # one trace runs API -> outbox relay -> task.
        CeleryInstrumentor().instrument(tracer_provider=provider)  # type: ignore[no-untyped-call]
        return cls(provider)

    def instrument_app(self, app: FastAPI) -> None:
        if self.provider is None:
            return
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor  # noqa: PLC0415

        FastAPIInstrumentor.instrument_app(
            app, tracer_provider=self.provider, excluded_urls=_NOT_TRACED
        )

    def instrument_engine(self, engine: AsyncEngine) -> None:
        if self.provider is None:
            return
        from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor  # noqa: PLC0415

        SQLAlchemyInstrumentor().instrument(
            engine=engine.sync_engine, tracer_provider=self.provider, enable_commenter=False
        )
        self._engine_instrumented = True

    def shutdown(self) -> None:
        if self.provider is not None:
            from opentelemetry.instrumentation.celery import CeleryInstrumentor  # noqa: PLC0415
            from opentelemetry.instrumentation.redis import RedisInstrumentor  # noqa: PLC0415

            # These instrumentations patch process-wide: undo them with the provider.
            RedisInstrumentor().uninstrument()
            CeleryInstrumentor().uninstrument()  # type: ignore[no-untyped-call]
            if self._engine_instrumented:
                from opentelemetry.instrumentation.sqlalchemy import (  # noqa: PLC0415
                    SQLAlchemyInstrumentor,
                )

                # A singleton too: left instrumented, the next app of this process (tests start
                # many) would be refused ("already instrumented") and trace no SQL.
                SQLAlchemyInstrumentor().uninstrument()
                self._engine_instrumented = False
            self.provider.shutdown()
