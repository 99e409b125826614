"""The real server: gunicorn with uvicorn workers, over real HTTP, several worker processes."""

from __future__ import annotations

import json
import re
import signal
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.bootstrap.settings import Settings
from tests.integration.helpers import PASSWORD
from tests.integration.server_support import Served, serve_api
from tests.support.polling import until_sync


@pytest.fixture
def server(settings: Settings, tmp_path: Path) -> Iterator[Served]:
    with serve_api(settings, tmp_path) as served:
        yield served


def _counter(metrics: str, route: str, status: str) -> float:
    pattern = (
        rf'http_requests_total{{method="GET",route="{re.escape(route)}",status="{status}"}} (\S+)'
    )
    match = re.search(pattern, metrics)
    return float(match.group(1)) if match else 0.0


def test_serves_the_identity_flow_and_aggregates_metrics_across_workers(server: Served) -> None:
    base, metrics_base, _ = server
    with httpx.Client(base_url=base, timeout=10) as client:
        created = client.post(
            "/api/v1/users",
            json={"username": "gunny", "email": "gunny@example.com", "password": PASSWORD},
        )
        assert created.status_code == 201
        tokens = client.post(
            "/api/v1/auth/login", json={"login": "gunny", "password": PASSWORD}
        ).json()
        me = client.get(
            "/api/v1/users/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
        )
        assert me.json()["username"] == "gunny"
        for _ in range(40):
            # A fresh connection each time spreads requests over both workers.
            response = httpx.get(f"{base}/health/live", headers={"Connection": "close"})
            assert response.status_code == 200
        # gunicorn's master merges the workers' files; each worker writes its counts within a
        # second (ObservabilityMiddleware's tally), so the sum is awaited, then must hold.
        until_sync(
            lambda: _counter(_scrape(metrics_base), "/health/live", "200") >= 40,
            every=0.2,
            what=lambda: _scrape(metrics_base)[-2000:],
        )
        metrics = _scrape(metrics_base)
        assert _counter(metrics, "/health/live", "200") == 40
        assert _counter(metrics, "/api/v1/users/me", "200") == 1


def _scrape(metrics_base: str) -> str:
    return httpx.get(f"{metrics_base}/metrics", headers={"Connection": "close"}).text


@pytest.mark.owasp("API8", "API9")
def test_metrics_and_docs_are_not_on_the_public_port(server: Served) -> None:
    # Security review, finding 9: the API port is what the Ingress exposes.
    for path in ("/metrics", "/docs", "/redoc", "/openapi.json"):
        response = httpx.get(f"{server.base}{path}")
        assert response.status_code == 404, (path, response.text)
    # The 404s above reach the metrics port's merge within a second (the workers' tally).
    until_sync(
        lambda: "http_requests_total" in _scrape(server.metrics),
        every=0.2,
        what=lambda: _scrape(server.metrics)[-2000:],
    )


@pytest.mark.parametrize("value", [b"a\x01b", b"a\x7fb"])
def test_a_request_http_forbids_is_answered_with_a_problem(server: Served, value: bytes) -> None:
    """httptools refuses it before the app runs; uvicorn's own answer was a text/plain line."""
    port = int(server.base.rsplit(":", 1)[1])
    request = (
        b"POST /api/v1/orders?page=2 HTTP/1.1\r\nHost: api\r\nIdempotency-Key: " + value
        + b"\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
    )  # fmt: skip
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(request)
        answer = b""
        while chunk := connection.recv(65_536):  # the server closes the connection
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines)
    assert status_line == "HTTP/1.1 400 Bad Request"
    assert headers["content-type"] == "application/problem+json"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["connection"] == "close"
    problem = json.loads(body)
    assert problem["status"] == 400
    assert (problem["code"], problem["instance"]) == ("bad_request", "/api/v1/orders")
    # The server goes on serving.
    assert httpx.get(f"{server.base}/health/live", timeout=5).status_code == 200


def test_stops_gracefully_on_sigterm(server: Served) -> None:
    process = server.process
    process.send_signal(signal.SIGTERM)
    # Gracefully: it exits by itself, with 0 (a generous bound fails the test if it never does).
    assert process.wait(timeout=60) == 0
