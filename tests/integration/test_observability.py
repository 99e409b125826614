"""Request ids, RED metrics by route template, JSON logs and traces, seen from outside."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr

import httpx
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from app.bootstrap.settings import Settings
from tests.integration.conftest import ClientFactory
from tests.integration.helpers import PASSWORD, bearer, log_in, sign_up


@contextmanager
def captured_logs() -> Iterator[io.StringIO]:
    """What the app logs, rendered by its own formatter (one JSON object a line).

    Enter it after the app is created: create_app() configures logging afresh.
    """
    root = logging.getLogger()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(root.handlers[0].formatter)
    root.addHandler(handler)
    try:
        # The app's own (structlog) loggers write to sys.stderr as it is at each line.
        with redirect_stderr(stream):
            yield stream
    finally:
        root.removeHandler(handler)


def _records(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.startswith("{")]


async def test_echoes_a_plain_request_id_and_replaces_an_unsafe_one(
    client: httpx.AsyncClient,
) -> None:
    given = await client.get("/health/live", headers={"X-Request-ID": "lb-1234567890"})
    unsafe = await client.get("/health/live", headers={"X-Request-ID": "bad id\nx"})
    missing = await client.get("/health/live")
    assert given.headers["X-Request-ID"] == "lb-1234567890"
    assert re.fullmatch("[0-9a-f]{32}", unsafe.headers["X-Request-ID"])
    assert re.fullmatch("[0-9a-f]{32}", missing.headers["X-Request-ID"])
    assert unsafe.headers["X-Request-ID"] != missing.headers["X-Request-ID"]
    for response in (given, unsafe, missing):
        assert len(response.headers.get_list("X-Request-ID")) == 1


async def test_metrics_label_requests_by_route_template_and_group_unmatched_paths(
    client: httpx.AsyncClient,
) -> None:
    await sign_up(client, "metrics")
    tokens = await log_in(client, "metrics")
    await client.get("/api/v1/users/8a1f1f9e-0000-4000-8000-000000000000", headers=bearer(tokens))
    await client.get("/no/such/path/123")
    body = (await client.get("/metrics")).text
    assert 'route="/api/v1/users/{user_id}"' in body
    assert 'route="<unmatched>",status="404"' in body
    assert "8a1f1f9e" not in body
    assert "http_request_duration_seconds_bucket" in body
    assert 'le="0.3"' in body  # the latency SLO's threshold is a bucket of its own


async def test_made_up_methods_share_one_label_value(client: httpx.AsyncClient) -> None:
    # A label value per method a client invents would grow the series without bound.
    for method in ("BREW", "XYZZY"):
        await client.request(method, "/health/live")
    body = (await client.get("/metrics")).text
    assert 'method="OTHER",route="/health/live"' in body
    assert "BREW" not in body
    assert "XYZZY" not in body


async def test_logs_are_json_with_request_id_and_never_contain_passwords_or_hashes(
    client: httpx.AsyncClient,
) -> None:
    with captured_logs() as log_lines:
        await sign_up(client, "logger")
        await log_in(client, "logger")
        await client.post(
            "/api/v1/auth/login", json={"login": "logger", "password": "wrong-" + PASSWORD}
        )
        await client.post("/api/v1/users", json={"username": "x", "password": PASSWORD})
    text = log_lines.getvalue()
    records = _records(log_lines)
    access = [record for record in records if record.get("event") == "request"]
    assert len(access) == 4
    assert all(record.get("request_id") for record in access)
    assert {record["route"] for record in access} == {"/api/v1/users", "/api/v1/auth/login"}
    assert "$argon2" not in text
    assert PASSWORD not in text


async def test_unexpected_errors_are_500_problems_with_request_id_and_no_internals(
    make_client: ClientFactory, settings: Settings
) -> None:
    from dishka import Provider, Scope  # noqa: PLC0415

    from app.shared.application.ports import Clock  # noqa: PLC0415

    class BrokenClock:
        def now(self) -> object:
            raise RuntimeError("internal detail: /etc/secret")

    broken = Provider(scope=Scope.APP)
    broken.provide(BrokenClock, provides=Clock, override=True)
    client = await make_client(settings, providers=(broken,))
    with captured_logs() as log_lines:
        response = await client.post(
            "/api/v1/users",
            json={"username": "boom", "email": "boom@example.com", "password": PASSWORD},
            headers={"X-Request-ID": "req-boom-0001"},
        )
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["X-Request-ID"] == "req-boom-0001"
    problem = response.json()
    assert problem["code"] == "internal_error"
    assert problem["request_id"] == "req-boom-0001"
    assert "secret" not in response.text
    errors = [record for record in _records(log_lines) if record.get("event") == "unhandled_error"]
    assert len(errors) == 1
    assert errors[0]["request_id"] == "req-boom-0001"
    assert "RuntimeError" in str(errors[0].get("exception"))
    metrics = (await client.get("/metrics")).text
    assert 'route="/api/v1/users",status="500"' in metrics


# Twice: a process runs many apps one after another (tests do), and each must trace its SQL;
# instrumentations are process-wide singletons that refuse a second instrument() unless undone.
@pytest.mark.parametrize("app_in_process", ["first", "second"])
async def test_traces_cover_http_sql_and_redis_in_one_trace_and_logs_carry_its_id(
    make_client: ClientFactory, settings: Settings, app_in_process: str
) -> None:
    exporter = InMemorySpanExporter()
    client = await make_client(settings, span_exporter=exporter)
    await sign_up(client, f"tracer-{app_in_process}")
    exporter.clear()
    with captured_logs() as log_lines:
        await client.post(
            "/api/v1/auth/login", json={"login": f"tracer-{app_in_process}", "password": PASSWORD}
        )
    spans = exporter.get_finished_spans()
    server = [span for span in spans if span.kind.name == "SERVER"]
    assert len(server) == 1
    trace_id = server[0].context.trace_id
    same_trace = [span for span in spans if span.context.trace_id == trace_id]
    systems = {span.attributes.get("db.system") for span in same_trace if span.attributes}
    assert {"postgresql", "redis"} <= systems
    access = [record for record in _records(log_lines) if record.get("event") == "request"]
    assert access[-1]["trace_id"] == format(trace_id, "032x")
