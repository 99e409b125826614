"""Security review, finding 8: a failed statement's log record must not carry the statement's
values (personal data, password hashes, tokens). SQLAlchemy hides its parameter list, but the
driver's and the server's own messages quote values too, so the record keeps only the kind of
error (class, SQLSTATE), the statement and where it was raised."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI, Request
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.bootstrap.api import create_app
from app.bootstrap.settings import Settings
from app.shared.infrastructure.database import ReadConnections, autocommit
from tests.integration.test_observability import _records, captured_logs

pytestmark = pytest.mark.owasp("API8")

SECRET = "s3cret-value-that-must-not-be-logged"


async def _driver_refuses(request: Request) -> None:  # the driver's message names the value
    engine = await request.app.state.dishka_container.get(AsyncEngine)
    async with engine.connect() as connection:
        await connection.execute(text("SELECT CAST(:value AS integer)"), {"value": SECRET})


async def _server_refuses(request: Request) -> None:  # PostgreSQL's message names the value
    engine = await request.app.state.dishka_container.get(AsyncEngine)
    async with engine.connect() as connection:
        await connection.execute(
            text("SELECT CAST(CAST(:value AS text) AS integer)"), {"value": SECRET}
        )


async def _raw_read(request: Request, value: str) -> None:  # the readers' path: asyncpg itself
    engine = await request.app.state.dishka_container.get(AsyncEngine)
    await ReadConnections(autocommit(engine)).fetch(
        "SELECT CAST(CAST($1 AS text) AS integer)", value
    )


async def _raw_read_refuses(request: Request) -> None:
    await _raw_read(request, SECRET)


async def _raw_read_of_a_nul(request: Request) -> None:
    await _raw_read(request, "1\x00")


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app: FastAPI = create_app(settings)
    app.add_api_route("/test/driver-refuses", _driver_refuses)
    app.add_api_route("/test/server-refuses", _server_refuses)
    app.add_api_route("/test/raw-read-refuses", _raw_read_refuses)
    app.add_api_route("/test/raw-read-of-a-nul", _raw_read_of_a_nul)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


@pytest.mark.parametrize(
    ("path", "error_type", "sqlstate"),
    [
        ("/test/driver-refuses", "DataError", "22000"),
        ("/test/server-refuses", "InvalidTextRepresentationError", "22P02"),
    ],
)
async def test_a_failed_statement_is_logged_without_its_values(
    client: httpx.AsyncClient, path: str, error_type: str, sqlstate: str
) -> None:
    with captured_logs() as log_lines:
        response = await client.get(path)
    assert response.status_code == 500
    assert response.json()["code"] == "internal_error"
    assert SECRET not in log_lines.getvalue()
    [record] = [r for r in _records(log_lines) if r.get("event") == "unhandled_database_error"]
    assert record["error_type"] == error_type
    assert record["sqlstate"] == sqlstate
    assert "AS integer" in str(record["statement"])  # which statement failed, and where:
    assert "test_sql_errors_hide_values.py" in str(record["stack"])


async def test_a_failed_raw_read_is_logged_without_its_values(client: httpx.AsyncClient) -> None:
    """The readers send SQL through asyncpg, where SQLAlchemy's handler never sees the error."""
    with captured_logs() as log_lines:
        response = await client.get("/test/raw-read-refuses")
    assert response.status_code == 500
    assert response.json()["code"] == "internal_error"
    assert SECRET not in log_lines.getvalue()
    [record] = [r for r in _records(log_lines) if r.get("event") == "unhandled_database_error"]
    assert (record["error_type"], record["sqlstate"]) == ("InvalidTextRepresentationError", "22P02")
    assert "test_sql_errors_hide_values.py" in str(record["stack"])


async def test_a_nul_in_a_raw_read_is_a_422_invalid_text(client: httpx.AsyncClient) -> None:
    # make test's schemathesis run found GET /api/v1/products?currency=QJ%00 answered 500.
    response = await client.get("/test/raw-read-of-a-nul")
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_text"
