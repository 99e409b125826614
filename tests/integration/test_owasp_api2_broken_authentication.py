"""OWASP API2:2023 Broken Authentication: only an access token the app issued, for a live session,
authenticates; a cookie-authenticated write needs the session's CSRF token on every route.

Already proven elsewhere, and not repeated here: test_sessions.py (alg none, another HMAC
algorithm, a forged signature or wrong key, a tampered payload, wrong issuer or audience, no exp,
no iat, no sid, expired, garbage, a token for another user's or an unknown or expired session,
logged out sessions, refresh rotation and reuse revoking the session, concurrent refreshes,
maximum session age), tests/unit/test_access_tokens.py (the verified-token cache honours exp and
revocation), test_cookie_auth.py (cookie flags, CSRF on log-out and password change, a CSRF token
of another session), test_credentials_version.py (sessions opened before a password change end),
test_admin_users.py (deactivation ends every session), test_password_guessing.py and
test_rate_limits.py (guessing limits), test_sign_up.py and test_worker_notifications.py (sign-up
does not reveal registered addresses).

New here: the CSRF check on every cookie-authenticated write route of the app (derived from the
app's routes), and the credentials that must not work as an access token (a refresh token, the
CSRF token, a token in the query string, the refresh cookie).
"""

from __future__ import annotations

import httpx
import pytest

from app.bootstrap.settings import Settings
from tests.integration.helpers import bearer, log_in, sign_up
from tests.integration.owasp_support import (
    PUBLIC,
    SAFE_METHODS,
    World,
    app_of,
    call,
    endpoints,
    open_world,
)
from tests.integration.support import assert_unauthorized, log_in_raw, me

pytestmark = pytest.mark.owasp("API2")

# The refresh route takes no access token: its credential is the refresh cookie, which is
# SameSite=Strict and scoped to the auth routes, so no other site can make a browser send it.
NOT_ACCESS_AUTHENTICATED = frozenset({("POST", "/api/v1/auth/refresh")})


@pytest.fixture
async def world(client: httpx.AsyncClient, database_url: str) -> World:
    return await open_world(client, database_url)


async def _cookie_session(client: httpx.AsyncClient, login: str) -> tuple[str, str, str]:
    """(access cookie, refresh cookie, CSRF token) of a new cookie-mode session; the client's
    own cookie jar is left empty, so each request says exactly what it carries."""
    response = await log_in_raw(client, login, cookie=True)
    assert response.status_code == 200, response.text
    access = response.cookies["access_token"]
    refresh = response.cookies["refresh_token"]
    client.cookies.clear()
    return access, refresh, str(response.json()["csrf_token"])


async def test_every_cookie_authenticated_write_route_needs_this_sessions_csrf_token(
    client: httpx.AsyncClient, world: World, settings: Settings
) -> None:
    # The super admin: allowed everywhere, so the CSRF check is all that can refuse.
    access, _, csrf = await _cookie_session(client, "root")
    _, _, others_csrf = await _cookie_session(client, "root")
    writes = [
        endpoint
        for endpoint in endpoints(app_of(settings))
        if endpoint.method not in SAFE_METHODS
        and endpoint.key not in PUBLIC | NOT_ACCESS_AUTHENTICATED
    ]
    assert len(writes) >= 20
    cookie = {"Cookie": f"access_token={access}"}
    for endpoint in writes:
        for headers in (cookie, {**cookie, "X-CSRF-Token": others_csrf}):
            response = await call(client, world, endpoint, headers)
            assert response.status_code == 403, (str(endpoint), response.text)
            assert response.json()["code"] == "csrf_failed", str(endpoint)
    # Nothing happened: the session is alive (log-out was refused too) and answers with the token.
    read = await client.get("/api/v1/users/me", headers=cookie)
    assert read.status_code == 200, read.text
    logout = await client.post("/api/v1/auth/logout", headers={**cookie, "X-CSRF-Token": csrf})
    assert logout.status_code == 204, logout.text


async def test_a_refresh_token_is_not_an_access_token(client: httpx.AsyncClient) -> None:
    await sign_up(client, "alice")
    tokens = await log_in(client, "alice")
    response = await client.get(
        "/api/v1/users/me", headers={"Authorization": f"Bearer {tokens['refresh_token']}"}
    )
    assert_unauthorized(response, "not_authenticated")
    assert (await me(client, tokens)).status_code == 200


async def test_only_the_access_cookie_or_a_bearer_header_authenticate(
    client: httpx.AsyncClient, world: World
) -> None:
    access, refresh, csrf = await _cookie_session(client, "carl")
    tokens = world.team.customer.tokens
    for response in (
        # The refresh cookie is sent to the auth routes only, and refreshes only.
        await client.get("/api/v1/users/me", headers={"Cookie": f"refresh_token={refresh}"}),
        # The CSRF token is readable by scripts: it proves nothing alone.
        await client.get("/api/v1/users/me", headers={"X-CSRF-Token": csrf}),
        await client.get("/api/v1/users/me", headers={"Cookie": f"csrf_token={csrf}"}),
        # Tokens in URLs end up in logs and Referer headers: never read from there.
        await client.get("/api/v1/users/me", params={"access_token": tokens["access_token"]}),
        await client.get("/api/v1/users/me", params={"token": tokens["access_token"]}),
        # Another scheme is not a bearer token.
        await client.get(
            "/api/v1/users/me", headers={"Authorization": f"Basic {tokens['access_token']}"}
        ),
        await client.get(
            "/api/v1/users/me", headers={"Authorization": f"Token {tokens['access_token']}"}
        ),
    ):
        assert_unauthorized(response, "not_authenticated")
    with_cookie = await client.get("/api/v1/users/me", headers={"Cookie": f"access_token={access}"})
    assert with_cookie.status_code == 200
    assert (await client.get("/api/v1/users/me", headers=bearer(tokens))).status_code == 200


async def test_a_cookie_and_its_csrf_token_are_refused_once_the_session_ended(
    client: httpx.AsyncClient, world: World
) -> None:
    access, _, csrf = await _cookie_session(client, "carl")
    cookie = {"Cookie": f"access_token={access}", "X-CSRF-Token": csrf}
    assert (await client.post("/api/v1/auth/logout", headers=cookie)).status_code == 204
    # The same cookie and CSRF token after the session ended: the session check still runs.
    response = await client.post("/api/v1/auth/logout-all", headers=cookie)
    assert_unauthorized(response, "session_revoked")
