"""OWASP API7:2023 Server Side Request Forgery: no route fetches a URL, or connects to a host, that
a caller names. The app's outbound connections are PostgreSQL, Redis, the Celery broker, the SMTP
server and, when tracing is on, the OTLP collector: each goes where the settings (the operator)
say, never where a request says.

Proven here, without a server: no operation of the OpenAPI takes a URL, a host or a callback in
a parameter or a body; no module of app/ imports an HTTP client or a URL opener; the modules that
open connections are the known adapters, each given its address by the settings.

Also proving it: tests/unit/test_notifications.py (the SMTP sender connects to its configured
host and port whatever the message says, and refuses anything but one recipient address).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest

from app.bootstrap.api import create_app
from tests.conftest import build_settings

pytestmark = pytest.mark.owasp("API7")

APP = Path(__file__).parents[2] / "app"

# Libraries that fetch URLs. None belongs in the app: a new one is a new outbound path to review.
URL_FETCHERS = frozenset({
    "httpx", "requests", "aiohttp", "urllib3", "urllib.request", "http.client", "pycurl",
    "ftplib", "smtplib", "xmlrpc.client", "webbrowser", "websockets",
})  # fmt: skip
# Libraries that open connections, and the only modules allowed to use them, with where their
# address comes from.
CONNECTORS: dict[str, frozenset[str]] = {
    # APP_SMTP_HOST / APP_SMTP_PORT, through the constructor (bootstrap/di/notifications.py)
    # (the task adapter imports it for its error classes only, to retry on them).
    "aiosmtplib": frozenset(
        {
            "app.notifications.infrastructure.smtp_email_sender",
            "app.notifications.presentation.tasks",
        }
    ),
    # The host name of this process, for a lock's owner: no connection at all.
    "socket": frozenset({"app.shared.infrastructure.job_lock"}),
}
# Input names that would mean "the server goes there for you".
URL_LIKE = re.compile(r"(url|uri|href|link|host|callback|webhook|endpoint|redirect)", re.IGNORECASE)


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def _module(path: Path) -> str:
    return ".".join(path.relative_to(APP.parent).with_suffix("").parts)


def _matches(name: str, library: str) -> bool:
    return name == library or name.startswith(f"{library}.")


def test_no_module_of_the_app_imports_an_http_client_or_a_url_opener() -> None:
    offenders = {
        _module(path): sorted(
            n for n in _imports(path) if any(_matches(n, u) for u in URL_FETCHERS)
        )
        for path in APP.rglob("*.py")
    }
    assert {module: names for module, names in offenders.items() if names} == {}
    assert len(offenders) > 100  # the walk found the app


def test_only_the_known_adapters_open_connections() -> None:
    for library, allowed in CONNECTORS.items():
        users = {
            _module(path)
            for path in APP.rglob("*.py")
            if any(_matches(name, library) for name in _imports(path))
        }
        assert users == allowed, library


def _openapi() -> dict[str, Any]:
    settings = build_settings(
        "postgresql+asyncpg://nobody@127.0.0.1:1/none", "redis://127.0.0.1:1/0"
    )
    return create_app(settings).openapi()


def _resolve(openapi: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in schema:
        return dict(openapi["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]])
    return schema


def _input_fields(
    openapi: dict[str, Any], schema: dict[str, Any], where: str, seen: set[str]
) -> list[tuple[str, dict[str, Any]]]:
    """Every property of a request schema, nested ones too, with its path."""
    ref = schema.get("$ref")
    if ref in seen:
        return []
    schema = _resolve(openapi, schema)
    found: list[tuple[str, dict[str, Any]]] = []
    for name, sub in schema.get("properties", {}).items():
        found.append((f"{where}.{name}", _resolve(openapi, sub)))
        found += _input_fields(openapi, sub, f"{where}.{name}", seen | {ref} if ref else seen)
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            found += _input_fields(openapi, schema[key], where, seen | {ref} if ref else seen)
    for sub in schema.get("anyOf", []) + schema.get("allOf", []) + schema.get("oneOf", []):
        found += _input_fields(openapi, sub, where, seen | {ref} if ref else seen)
    return found


def _formats(schema: dict[str, Any]) -> set[str]:
    formats = {str(schema.get("format", ""))}
    for sub in schema.get("anyOf", []) + schema.get("oneOf", []):
        formats |= _formats(sub)
    return formats


def test_no_operation_takes_a_url_or_a_host_from_its_caller() -> None:
    openapi = _openapi()
    inputs: list[tuple[str, dict[str, Any]]] = []
    for path, item in openapi["paths"].items():
        for method, operation in item.items():
            where = f"{method.upper()} {path}"
            inputs.extend(
                (f"{where} {p['in']}:{p['name']}", p.get("schema", {}))
                for p in operation.get("parameters", [])
            )
            for media in operation.get("requestBody", {}).get("content", {}).values():
                inputs += _input_fields(openapi, media.get("schema", {}), f"{where} body", set())
    assert len(inputs) > 40
    for name, schema in inputs:
        assert not _formats(schema) & {"uri", "url", "uri-reference", "iri", "hostname"}, name
        assert not URL_LIKE.search(name.rsplit(" ", 1)[-1]), name
