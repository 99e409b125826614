"""POST /api/v1/auth/login and /api/v1/auth/token: opening a session."""

from __future__ import annotations

import httpx
import pytest
from redis.asyncio import Redis

from app.bootstrap.settings import Settings
from tests.integration.helpers import PASSWORD, log_in, sign_up
from tests.integration.support import (
    assert_problem,
    assert_unauthorized,
    claims_of,
    deactivate,
    log_in_raw,
    me,
    staffing,
    without_request_id,
)

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    "login", ["alice", "ALICE", " Alice ", "alice@example.com", "Alice@EXAMPLE.com"]
)
async def test_logs_in_by_username_or_email_in_any_case(
    client: httpx.AsyncClient, settings: Settings, login: str
) -> None:
    user_id = await sign_up(client, "alice")

    response = await log_in_raw(client, login)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == settings.auth.access_ttl_seconds
    assert body["access_token"]
    assert body["refresh_token"]
    assert body["csrf_token"]
    claims = claims_of(body["access_token"])
    assert claims["sub"] == user_id
    assert claims["iss"] == settings.auth.jwt_issuer
    assert claims["aud"] == settings.auth.jwt_audience
    assert claims["exp"] - claims["iat"] == settings.auth.access_ttl_seconds
    assert claims["sid"] == body["refresh_token"].partition(".")[0]
    profile = await me(client, body)
    assert profile.status_code == 200
    assert profile.json()["id"] == user_id


async def test_login_does_not_set_cookies_unless_asked(client: httpx.AsyncClient) -> None:
    await sign_up(client, "alice")

    response = await log_in_raw(client, "alice")

    assert response.status_code == 200
    assert "set-cookie" not in response.headers


async def test_each_login_opens_a_separate_session(client: httpx.AsyncClient) -> None:
    await sign_up(client, "alice")

    first = await log_in(client, "alice")
    second = await log_in(client, "alice")

    assert claims_of(first["access_token"])["sid"] != claims_of(second["access_token"])["sid"]
    assert first["refresh_token"] != second["refresh_token"]
    assert first["csrf_token"] != second["csrf_token"]
    assert (await me(client, first)).status_code == 200
    assert (await me(client, second)).status_code == 200


async def test_oauth2_password_form_issues_tokens(client: httpx.AsyncClient) -> None:
    await sign_up(client, "alice")

    response = await client.post(
        "/api/v1/auth/token", data={"username": "alice", "password": PASSWORD}
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "bearer"
    assert (await me(client, body)).status_code == 200


async def test_oauth2_password_form_takes_swaggers_fields_and_the_log_ins_rules(
    client: httpx.AsyncClient,
) -> None:
    await sign_up(client, "alice")
    swagger = {"grant_type": "password", "username": "alice", "password": PASSWORD, "scope": ""}

    sent = await client.post("/api/v1/auth/token", data={**swagger, "client_id": "swagger"})

    assert sent.status_code == 200, sent.text
    for wrong in ({"grant_type": "client_credentials"}, {"password": ""}, {"username": "x" * 321}):
        refused = await client.post("/api/v1/auth/token", data={**swagger, **wrong})
        assert_problem(refused, 422, "validation_error")


async def test_oauth2_password_form_rejects_a_wrong_password(client: httpx.AsyncClient) -> None:
    await sign_up(client, "alice")

    response = await client.post(
        "/api/v1/auth/token", data={"username": "alice", "password": "not the password"}
    )

    assert_unauthorized(response, "invalid_credentials")


async def test_wrong_password_unknown_user_and_inactive_user_fail_identically(
    client: httpx.AsyncClient, database_url: str
) -> None:
    team = await staffing(client, database_url)
    await sign_up(client, "alice")
    dormant_id = await sign_up(client, "dormant")
    response = await deactivate(client, team.admin.tokens, dormant_id)
    assert response.status_code == 204

    attempts = {
        "wrong password": await log_in_raw(client, "alice", "not the password"),
        "wrong password by email": await log_in_raw(client, "alice@example.com", "nope nope"),
        "unknown username": await log_in_raw(client, "nobody"),
        "unknown email": await log_in_raw(client, "nobody@example.com"),
        "inactive user": await log_in_raw(client, "dormant"),
        "inactive user by email": await log_in_raw(client, "dormant@example.com"),
        "malformed login": await log_in_raw(client, "not a username!"),
    }

    bodies = {name: assert_unauthorized(r, "invalid_credentials") for name, r in attempts.items()}
    reference = without_request_id(bodies["wrong password"])
    for name, body in bodies.items():
        assert without_request_id(body) == reference, name
        assert body["request_id"]
    assert len({body["request_id"] for body in bodies.values()}) == len(bodies)
    assert set(reference) == {"type", "title", "status", "detail", "instance", "code"}


async def test_unauthorized_login_carries_www_authenticate(client: httpx.AsyncClient) -> None:
    response = await log_in_raw(client, "nobody")

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


async def test_the_password_is_case_sensitive(client: httpx.AsyncClient) -> None:
    await sign_up(client, "alice")

    response = await log_in_raw(client, "alice", PASSWORD.upper())

    assert_unauthorized(response, "invalid_credentials")


async def test_a_failed_login_opens_no_session(client: httpx.AsyncClient, redis: Redis) -> None:
    await sign_up(client, "alice")

    await log_in_raw(client, "alice", "not the password")

    assert await redis.keys("identity:session:*") == []


@pytest.mark.parametrize(
    "body",
    [
        {"password": PASSWORD},
        {"login": "alice"},
        {"login": "", "password": PASSWORD},
        {"login": "alice", "password": ""},
        {"login": "alice", "password": "p" * 1025},
        {"login": "alice", "password": PASSWORD, "cookie": "maybe"},
    ],
    ids=["no-login", "no-password", "empty-login", "empty-password", "huge-password", "bad-cookie"],
)
async def test_malformed_login_body_is_a_422_validation_error(
    client: httpx.AsyncClient, body: dict[str, object]
) -> None:
    response = await client.post("/api/v1/auth/login", json=body)

    problem = assert_problem(response, 422, "validation_error")
    assert problem["errors"]
    assert "p" * 100 not in response.text
    assert PASSWORD not in response.text
