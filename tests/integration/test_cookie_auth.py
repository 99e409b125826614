"""Browser mode: tokens in HttpOnly cookies, writes protected by a double-submit CSRF token."""

from __future__ import annotations

from http.cookies import SimpleCookie

import httpx
import pytest

from app.bootstrap.settings import Settings
from tests.conftest import build_settings
from tests.integration.conftest import ClientFactory
from tests.integration.helpers import PASSWORD, bearer, log_in, sign_up
from tests.integration.support import (
    assert_problem,
    assert_unauthorized,
    claims_of,
    log_in_raw,
    me,
    refresh_raw,
)

pytestmark = pytest.mark.integration


def _set_cookies(response: httpx.Response) -> dict[str, SimpleCookie]:
    """Each Set-Cookie header parsed, by cookie name."""
    parsed: dict[str, SimpleCookie] = {}
    for header in response.headers.get_list("set-cookie"):
        cookie: SimpleCookie = SimpleCookie()
        cookie.load(header)
        (name,) = cookie.keys()
        parsed[name] = cookie
    return parsed


async def _cookie_login(client: httpx.AsyncClient, username: str = "alice") -> httpx.Response:
    await sign_up(client, username)
    response = await log_in_raw(client, username, cookie=True)
    assert response.status_code == 200, response.text
    return response


async def test_cookie_login_sets_httponly_token_cookies_and_a_readable_csrf_cookie(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    response = await _cookie_login(client)

    cookies = _set_cookies(response)
    assert set(cookies) == {"access_token", "refresh_token", "csrf_token"}
    access = cookies["access_token"]["access_token"]
    refresh = cookies["refresh_token"]["refresh_token"]
    csrf = cookies["csrf_token"]["csrf_token"]
    assert access["httponly"] is True
    assert refresh["httponly"] is True
    assert not csrf["httponly"]
    assert access["path"] == "/"
    assert refresh["path"] == "/api/v1/auth"
    assert csrf["path"] == "/"
    assert refresh["samesite"].lower() == "strict"
    assert access["samesite"].lower() == settings.auth.cookie_samesite
    assert int(access["max-age"]) == settings.auth.access_ttl_seconds
    assert int(refresh["max-age"]) == settings.auth.refresh_ttl_seconds
    assert not access["secure"]  # cookie_secure is off in the test settings
    assert claims_of(access.value)["sub"]
    assert "." in refresh.value
    assert csrf.value == response.json()["csrf_token"]


async def test_cookie_login_body_carries_no_tokens(client: httpx.AsyncClient) -> None:
    response = await _cookie_login(client)

    body = response.json()
    assert body["token_type"] == "cookie"
    assert body.get("access_token") is None
    assert body.get("refresh_token") is None
    assert body["csrf_token"]
    cookies = _set_cookies(response)
    assert cookies["access_token"]["access_token"].value not in response.text
    assert cookies["refresh_token"]["refresh_token"].value not in response.text


async def test_secure_flag_is_set_when_configured(
    make_client: ClientFactory, database_url: str, redis_url: str
) -> None:
    secure_client = await make_client(
        build_settings(database_url, redis_url, cookie_secure=True, cookie_samesite="strict")
    )
    await sign_up(secure_client, "alice")

    response = await log_in_raw(secure_client, "alice", cookie=True)

    cookies = _set_cookies(response)
    for name, cookie in cookies.items():
        assert cookie[name]["secure"] is True, name
    assert cookies["access_token"]["access_token"]["samesite"].lower() == "strict"


async def test_get_me_works_with_the_cookie_alone(client: httpx.AsyncClient) -> None:
    await _cookie_login(client)

    response = await client.get("/api/v1/users/me")

    assert response.status_code == 200, response.text
    assert response.json()["username"] == "alice"


async def test_cookie_authenticated_logout_without_csrf_header_is_403(
    client: httpx.AsyncClient,
) -> None:
    await _cookie_login(client)

    response = await client.post("/api/v1/auth/logout")

    assert_problem(response, 403, "csrf_failed")
    assert (await client.get("/api/v1/users/me")).status_code == 200


@pytest.mark.parametrize("header", ["", "wrong", "x" * 43])
async def test_cookie_authenticated_logout_with_a_wrong_csrf_header_is_403(
    client: httpx.AsyncClient, header: str
) -> None:
    await _cookie_login(client)

    response = await client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": header})

    assert_problem(response, 403, "csrf_failed")
    assert (await client.get("/api/v1/users/me")).status_code == 200


async def test_csrf_token_of_another_session_is_rejected(client: httpx.AsyncClient) -> None:
    await sign_up(client, "bobby")
    bob = await log_in(client, "bobby")
    await _cookie_login(client)

    response = await client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": bob["csrf_token"]})

    assert_problem(response, 403, "csrf_failed")


async def test_cookie_authenticated_logout_with_csrf_header_is_204_and_clears_cookies(
    client: httpx.AsyncClient,
) -> None:
    login = await _cookie_login(client)
    csrf = client.cookies["csrf_token"]
    assert csrf == login.json()["csrf_token"]

    response = await client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf})

    assert response.status_code == 204, response.text
    cleared = _set_cookies(response)
    assert set(cleared) == {"access_token", "refresh_token", "csrf_token"}
    for name, cookie in cleared.items():
        assert int(cookie[name]["max-age"]) == 0, name
    assert "access_token" not in client.cookies
    assert_unauthorized(await client.get("/api/v1/users/me"), "not_authenticated")


async def test_session_stays_dead_after_logout_even_if_the_cookie_is_replayed(
    client: httpx.AsyncClient,
) -> None:
    login = await _cookie_login(client)
    access = _set_cookies(login)["access_token"]["access_token"].value
    csrf = login.json()["csrf_token"]
    assert (
        await client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf})
    ).status_code == 204

    client.cookies.set("access_token", access)
    response = await client.get("/api/v1/users/me")

    assert_unauthorized(response, "session_revoked")


async def test_reads_do_not_need_the_csrf_header(client: httpx.AsyncClient) -> None:
    await _cookie_login(client)

    assert (await client.get("/api/v1/users/me")).status_code == 200
    assert (
        await client.get("/api/v1/users/me", headers={"X-CSRF-Token": "bogus"})
    ).status_code == 200


async def test_cookie_authenticated_change_password_needs_csrf(client: httpx.AsyncClient) -> None:
    login = await _cookie_login(client)
    body = {"current_password": PASSWORD, "new_password": "a brand new passphrase"}

    refused = await client.put("/api/v1/users/me/password", json=body)
    assert_problem(refused, 403, "csrf_failed")
    assert (await log_in_raw(client, "alice", PASSWORD)).status_code == 200

    accepted = await client.put(
        "/api/v1/users/me/password",
        json=body,
        headers={"X-CSRF-Token": login.json()["csrf_token"]},
    )
    assert accepted.status_code == 204, accepted.text


async def test_bearer_header_takes_precedence_and_needs_no_csrf(
    client: httpx.AsyncClient,
) -> None:
    login = await _cookie_login(client)
    alice_access = _set_cookies(login)["access_token"]["access_token"].value
    await sign_up(client, "bobby")
    bob = await log_in(client, "bobby")

    who = await client.get("/api/v1/users/me", headers=bearer(bob))
    assert who.json()["username"] == "bobby"

    response = await client.post("/api/v1/auth/logout", headers=bearer(bob))
    assert response.status_code == 204
    assert_unauthorized(await me(client, bob), "session_revoked")
    # Alice's cookie session was not the one that ended (the logout response also told the
    # client to drop its cookies, so present hers again).
    client.cookies.set("access_token", alice_access)
    assert (await client.get("/api/v1/users/me")).json()["username"] == "alice"


async def test_refresh_with_the_cookie_rotates_cookies(client: httpx.AsyncClient) -> None:
    login = await _cookie_login(client)
    old = _set_cookies(login)
    old_refresh = old["refresh_token"]["refresh_token"].value
    old_access = old["access_token"]["access_token"].value

    response = await client.post("/api/v1/auth/refresh", json={})

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "cookie"
    assert body.get("access_token") is None
    assert body.get("refresh_token") is None
    new = _set_cookies(response)
    assert set(new) == {"access_token", "refresh_token", "csrf_token"}
    new_refresh = new["refresh_token"]["refresh_token"].value
    assert new_refresh != old_refresh
    assert (
        claims_of(new["access_token"]["access_token"].value)["sid"]
        == (claims_of(old_access)["sid"])
    )
    assert new["csrf_token"]["csrf_token"].value == body["csrf_token"]
    assert (await client.get("/api/v1/users/me")).status_code == 200
    # The rotated-out cookie value is single-use like any refresh token.
    assert_unauthorized(await refresh_raw(client, old_refresh), "session_revoked")
    assert_unauthorized(await client.get("/api/v1/users/me"), "session_revoked")


async def test_refresh_body_token_wins_over_cookie_and_answers_with_tokens(
    client: httpx.AsyncClient,
) -> None:
    await _cookie_login(client)
    await sign_up(client, "bobby")
    bob = await log_in(client, "bobby")

    response = await refresh_raw(client, bob["refresh_token"])

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "bearer"
    assert claims_of(body["access_token"])["sub"] == claims_of(bob["access_token"])["sub"]
    assert "set-cookie" not in response.headers


async def test_cookie_log_out_everywhere_needs_csrf_and_clears_cookies(
    client: httpx.AsyncClient,
) -> None:
    login = await _cookie_login(client)
    other = await log_in(client, "alice")

    refused = await client.post("/api/v1/auth/logout-all")
    assert_problem(refused, 403, "csrf_failed")
    assert (await me(client, other)).status_code == 200

    response = await client.post(
        "/api/v1/auth/logout-all", headers={"X-CSRF-Token": login.json()["csrf_token"]}
    )

    assert response.status_code == 200, response.text
    assert response.json() == {"revoked_sessions": 2}
    assert_unauthorized(await me(client, other), "session_revoked")
    assert_unauthorized(await client.get("/api/v1/users/me"), "not_authenticated")


async def test_refresh_with_an_empty_body_token_never_reveals_the_cookie_tokens(
    client: httpx.AsyncClient,
) -> None:
    # HttpOnly exists so that page scripts never see the tokens; a script must not be able to
    # read them by asking /refresh to use the cookie while answering in "body" mode.
    await _cookie_login(client)

    response = await client.post("/api/v1/auth/refresh", json={"refresh_token": ""})

    if response.status_code == 200:
        body = response.json()
        assert body.get("access_token") is None, body
        assert body.get("refresh_token") is None, body
        assert "refresh_token" in _set_cookies(response)
    else:
        assert response.status_code in {401, 422}, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
    # Either way the browser's session must still be usable through its cookies.
    assert (await client.get("/api/v1/users/me")).status_code == 200
    assert (await client.post("/api/v1/auth/refresh", json={})).status_code == 200
