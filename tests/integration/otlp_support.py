"""An OTLP/HTTP trace receiver for tests, and the tracing environment the chart gives a pod.

``OtlpReceiver`` stands in for an OpenTelemetry Collector: it answers ``POST /v1/traces``
(``application/x-protobuf``, gzip or not) with an empty ``ExportTraceServiceResponse`` and keeps
every span it decoded, with its resource's attributes. The processes under test use the real
exporter (``opentelemetry-exporter-otlp-proto-http``) pointed at it by
``OTEL_EXPORTER_OTLP_ENDPOINT``.

``chart_tracing_env()`` is what ``fp.env.tracing`` (charts/fastapi-platform/templates/
_helpers.tpl) renders for a component, with the downward-API fields filled in and ``$(VAR)``
expanded as the kubelet does; ``tests/chart/test_tracing.py`` checks that the chart renders
exactly this, so the attributes the integration test proves to arrive are the chart's.
"""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

TRACES_PATH: Final = "/v1/traces"
# The resource attributes the chart puts in OTEL_RESOURCE_ATTRIBUTES, in its order.
CHART_RESOURCE_KEYS: Final = (
    "service.namespace",
    "service.version",
    "deployment.environment",
    "deployment.environment.name",
    "k8s.namespace.name",
    "k8s.pod.name",
    "k8s.pod.uid",
    "k8s.node.name",
    "k8s.container.name",
)
# The downward API's fields -> the variables the chart fills from them.
DOWNWARD_API: Final = {
    "metadata.name": "K8S_POD_NAME",
    "metadata.uid": "K8S_POD_UID",
    "metadata.namespace": "K8S_NAMESPACE_NAME",
    "spec.nodeName": "K8S_NODE_NAME",
}


@dataclass(frozen=True, slots=True)
class ReceivedSpan:
    service: str
    resource: Mapping[str, Any]
    name: str
    kind: str  # SERVER, CLIENT, PRODUCER, CONSUMER, INTERNAL
    trace_id: str  # 32 hex digits
    span_id: str  # 16 hex digits
    parent_span_id: str  # "" for a root span
    attributes: Mapping[str, Any]


def _value(value: AnyValue) -> Any:
    field = value.WhichOneof("value")
    if field is None:
        return None
    if field == "array_value":
        return [_value(item) for item in value.array_value.values]
    if field == "kvlist_value":
        return _attributes(value.kvlist_value.values)
    return getattr(value, field)


def _attributes(pairs: Any) -> dict[str, Any]:
    items: list[KeyValue] = list(pairs)
    return {pair.key: _value(pair.value) for pair in items}


def decode(body: bytes) -> list[ReceivedSpan]:
    request = ExportTraceServiceRequest()
    request.ParseFromString(body)
    return [
        ReceivedSpan(
            service=str(resource.get("service.name", "")),
            resource=resource,
            name=span.name,
            kind=Span.SpanKind.Name(span.kind).removeprefix("SPAN_KIND_"),
            trace_id=span.trace_id.hex(),
            span_id=span.span_id.hex(),
            parent_span_id=span.parent_span_id.hex(),
            attributes=_attributes(span.attributes),
        )
        for resource_spans in request.resource_spans
        for resource in [_attributes(resource_spans.resource.attributes)]
        for scope_spans in resource_spans.scope_spans
        for span in scope_spans.spans
    ]


class OtlpReceiver:
    """What the collector's OTLP/HTTP receiver does for traces, in a thread of this process."""

    def __init__(self) -> None:
        self._spans: list[ReceivedSpan] = []
        self._lock = threading.Lock()
        self.requests = 0
        self.rejected: list[str] = []
        self._server: ThreadingHTTPServer | None = None

    @property
    def endpoint(self) -> str:
        assert self._server is not None, "not started"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def spans(self) -> list[ReceivedSpan]:
        with self._lock:
            return list(self._spans)

    def _received(self, spans: list[ReceivedSpan]) -> None:
        with self._lock:
            self._spans.extend(spans)
            self.requests += 1

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path != TRACES_PATH:
                    self._answer(HTTPStatus.NOT_FOUND, b"", "text/plain")
                    return
                if self.headers.get("Content-Type") != "application/x-protobuf":
                    receiver.rejected.append(f"Content-Type {self.headers.get('Content-Type')}")
                    self._answer(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, b"", "text/plain")
                    return
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                try:
                    spans = decode(body)
                except Exception as error:  # noqa: BLE001 - any decoding error is the sender's
                    receiver.rejected.append(repr(error))
                    self._answer(HTTPStatus.BAD_REQUEST, b"", "text/plain")
                    return
                receiver._received(spans)
                answer = ExportTraceServiceResponse().SerializeToString()
                self._answer(HTTPStatus.OK, answer, "application/x-protobuf")

            def _answer(self, status: HTTPStatus, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass  # the test's output stays quiet

        return Handler

    @contextmanager
    def running(self) -> Iterator[OtlpReceiver]:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._server.shutdown()
            self._server.server_close()
            thread.join(timeout=10)

    def wait_for(
        self, found: Any, *, within: float = 60.0, every: float = 0.1
    ) -> list[ReceivedSpan]:
        """Polls until ``found(spans)`` is true, or the deadline; returns the spans either way."""
        deadline = time.monotonic() + within
        while True:
            spans = self.spans()
            if found(spans) or time.monotonic() > deadline:
                return spans
            time.sleep(every)


@dataclass(frozen=True, slots=True)
class FakePod:
    """The downward API's answers for one pod."""

    name: str
    uid: str
    namespace: str = "fastapi-platform"
    node: str = "node-1"

    def field(self, path: str) -> str:
        return {
            "metadata.name": self.name,
            "metadata.uid": self.uid,
            "metadata.namespace": self.namespace,
            "spec.nodeName": self.node,
        }[path]


def chart_tracing_env(
    component: str,
    pod: FakePod,
    *,
    name: str = "fastapi-platform",
    version: str = "0.1.0",
    environment: str = "test",
    container: str | None = None,
) -> dict[str, str]:
    """The chart's tracing variables for ``component`` in ``pod`` (defaults: the chart's name,
    its appVersion), as the container sees them: what ``fp.env.tracing`` renders, expanded."""
    attributes = {
        "service.namespace": name,
        "service.version": version,
        "deployment.environment": environment,
        "deployment.environment.name": environment,
        "k8s.namespace.name": pod.namespace,
        "k8s.pod.name": pod.name,
        "k8s.pod.uid": pod.uid,
        "k8s.node.name": pod.node,
        "k8s.container.name": container or component,
    }
    assert tuple(attributes) == CHART_RESOURCE_KEYS
    return {
        **{variable: pod.field(path) for path, variable in DOWNWARD_API.items()},
        "OTEL_SERVICE_NAME": f"{name}-{component}",
        "OTEL_RESOURCE_ATTRIBUTES": ",".join(f"{k}={v}" for k, v in attributes.items()),
    }
