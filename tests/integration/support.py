"""Shared helpers for the identity integration tests (problem checks, tokens, admin bootstrap)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt

from app.bootstrap.settings import Settings
from tests.integration.helpers import PASSWORD, bearer, log_in, sign_up
from tests.support import sql
from tests.support.sql import sql_execute

# Read from here by modules written before tests/support (release_support.py).
asyncpg_dsn = sql.asyncpg_dsn

PROBLEM_JSON = "application/problem+json"
HASH_MARKER = "$argon2"


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The response is an RFC 9457 problem with this status and machine-readable code."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON), response.headers
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    assert body["status"] == status, body
    assert body["type"] == f"urn:problem-type:{code}", body
    assert body["instance"] == response.request.url.path, body
    return body


def assert_unauthorized(response: httpx.Response, code: str) -> dict[str, Any]:
    body = assert_problem(response, 401, code)
    assert response.headers.get("www-authenticate") == "Bearer", response.headers
    return body


def without_request_id(body: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in body.items() if key != "request_id"}


def record_responses(client: httpx.AsyncClient) -> list[httpx.Response]:
    """Every response the client receives from now on, its body read."""
    seen: list[httpx.Response] = []

    async def hook(response: httpx.Response) -> None:
        await response.aread()
        seen.append(response)

    client.event_hooks["response"].append(hook)
    return seen


def assert_no_password_hash(responses: list[httpx.Response], *hashes: str) -> None:
    assert responses, "no response was recorded"
    for response in responses:
        text = response.text
        assert HASH_MARKER not in text, (response.request.url, text)
        for value in hashes:
            assert value not in text, (response.request.url, text)


async def sign_up_raw(
    client: httpx.AsyncClient,
    username: str,
    *,
    email: str | None = None,
    password: str = PASSWORD,
) -> httpx.Response:
    return await client.post(
        "/api/v1/users",
        json={
            "username": username,
            "email": email if email is not None else f"{username}@example.com",
            "password": password,
        },
    )


async def log_in_raw(
    client: httpx.AsyncClient, login: str, password: str = PASSWORD, **extra: Any
) -> httpx.Response:
    return await client.post(
        "/api/v1/auth/login", json={"login": login, "password": password, **extra}
    )


async def refresh_raw(client: httpx.AsyncClient, refresh_token: str | None) -> httpx.Response:
    body = {} if refresh_token is None else {"refresh_token": refresh_token}
    return await client.post("/api/v1/auth/refresh", json=body)


async def me(client: httpx.AsyncClient, tokens: dict[str, str]) -> httpx.Response:
    return await client.get("/api/v1/users/me", headers=bearer(tokens))


def claims_of(access_token: str) -> dict[str, Any]:
    """The claims of a token the app issued (signature not checked: we only read them)."""
    return dict(jwt.decode(access_token, options={"verify_signature": False}))


def make_token(settings: Settings, *, secret: str | None = None, **overrides: Any) -> str:
    """An HS256 access token with the app's issuer and audience, changed by ``overrides``.

    A claim overridden with ``None`` is left out.
    """
    now = datetime.now(UTC)
    claims: dict[str, Any] = {
        "sub": "00000000-0000-0000-0000-000000000000",
        "sid": "no-such-session",
        "iss": settings.auth.jwt_issuer,
        "aud": settings.auth.jwt_audience,
        "iat": now,
        "exp": now + timedelta(minutes=5),
        **overrides,
    }
    claims = {key: value for key, value in claims.items() if value is not None}
    key = secret if secret is not None else settings.auth.jwt_secret.get_secret_value()
    return jwt.encode(claims, key, algorithm="HS256")


async def bootstrap_super_admin(
    client: httpx.AsyncClient, database_url: str, username: str = "root"
) -> tuple[str, dict[str, str]]:
    """The very first super admin (what the CLI's CreateSuperAdmin does): signed up over HTTP,
    then promoted in the database; every other role change in the tests goes through the API."""
    user_id = await sign_up(client, username)
    result = await sql_execute(
        database_url, "UPDATE users SET role = 'super_admin' WHERE username = $1", username
    )
    assert result == "UPDATE 1"
    return user_id, await log_in(client, username)


async def grant(
    client: httpx.AsyncClient, actor: dict[str, str], user_id: str, role: str
) -> httpx.Response:
    return await client.put(f"/api/v1/users/{user_id}/roles/{role}", headers=bearer(actor))


async def revoke(
    client: httpx.AsyncClient, actor: dict[str, str], user_id: str, role: str
) -> httpx.Response:
    return await client.delete(f"/api/v1/users/{user_id}/roles/{role}", headers=bearer(actor))


async def deactivate(
    client: httpx.AsyncClient, actor: dict[str, str], user_id: str
) -> httpx.Response:
    return await client.post(f"/api/v1/users/{user_id}/deactivate", headers=bearer(actor))


async def activate(
    client: httpx.AsyncClient, actor: dict[str, str], user_id: str
) -> httpx.Response:
    return await client.post(f"/api/v1/users/{user_id}/activate", headers=bearer(actor))


@dataclass(frozen=True, slots=True)
class Actor:
    id: str
    username: str
    tokens: dict[str, str]

    @property
    def headers(self) -> dict[str, str]:
        return bearer(self.tokens)


@dataclass(frozen=True, slots=True)
class Staffing:
    """One user of each role: root (super_admin), adam (admin), sam (staff), carl (customer)."""

    root: Actor
    admin: Actor
    staff: Actor
    customer: Actor


async def user_with_role(
    client: httpx.AsyncClient, granter: dict[str, str], username: str, role: str
) -> Actor:
    user_id = await sign_up(client, username)
    if role != "customer":
        response = await grant(client, granter, user_id, role)
        assert response.status_code == 204, response.text
    return Actor(user_id, username, await log_in(client, username))


async def staffing(client: httpx.AsyncClient, database_url: str) -> Staffing:
    root_id, root_tokens = await bootstrap_super_admin(client, database_url, "root")
    root = Actor(root_id, "root", root_tokens)
    admin = await user_with_role(client, root.tokens, "adam", "admin")
    staff = await user_with_role(client, admin.tokens, "sam", "staff")
    customer = await user_with_role(client, admin.tokens, "carl", "customer")
    return Staffing(root=root, admin=admin, staff=staff, customer=customer)
