"""Access tokens, refresh-token rotation, log out and log out everywhere."""

from __future__ import annotations

import asyncio
import base64
import json
import warnings
from collections import Counter
from datetime import UTC, datetime, timedelta

import httpx
import jwt
import pytest
from redis.asyncio import Redis

from app.bootstrap.settings import Settings
from tests.conftest import build_settings
from tests.integration.conftest import ClientFactory
from tests.integration.helpers import bearer, log_in, sign_up
from tests.integration.support import (
    assert_problem,
    assert_unauthorized,
    claims_of,
    deactivate,
    me,
    refresh_raw,
    staffing,
)

pytestmark = pytest.mark.integration


async def _alice(client: httpx.AsyncClient) -> tuple[str, dict[str, str]]:
    user_id = await sign_up(client, "alice")
    return user_id, await log_in(client, "alice")


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


# --- access tokens -------------------------------------------------------------------------


async def test_missing_token_is_401_not_authenticated(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/users/me")

    assert_unauthorized(response, "not_authenticated")


@pytest.mark.parametrize(
    "authorization", ["Bearer", "Bearer ", "Basic YWxpY2U6cGFzcw==", "Token abc", ""]
)
async def test_authorization_header_without_a_bearer_token_is_401_not_authenticated(
    client: httpx.AsyncClient, authorization: str
) -> None:
    response = await client.get("/api/v1/users/me", headers={"Authorization": authorization})

    assert_unauthorized(response, "not_authenticated")


@pytest.mark.parametrize(
    "token", ["garbage", "a.b.c", "eyJhbGciOiJIUzI1NiJ9.e30.", "x" * 500, "Bearer"]
)
async def test_garbage_token_is_401(client: httpx.AsyncClient, token: str) -> None:
    response = await client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})

    assert_unauthorized(response, "not_authenticated")


async def test_bearer_scheme_is_case_insensitive(client: httpx.AsyncClient) -> None:
    _, tokens = await _alice(client)

    response = await client.get(
        "/api/v1/users/me", headers={"Authorization": f"bearer {tokens['access_token']}"}
    )

    assert response.status_code == 200


async def test_token_with_forged_signature_is_401(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    user_id, tokens = await _alice(client)
    sid = claims_of(tokens["access_token"])["sid"]
    forged = jwt.encode(
        {**claims_of(tokens["access_token"])}, "another-secret-" + "y" * 40, algorithm="HS256"
    )

    response = await client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {forged}"})

    assert_unauthorized(response, "not_authenticated")
    # The same claims signed with the real secret pass: only the signature was wrong.
    genuine = jwt.encode(
        {**claims_of(tokens["access_token"]), "sid": sid, "sub": user_id},
        settings.auth.jwt_secret.get_secret_value(),
        algorithm="HS256",
    )
    control = await client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {genuine}"})
    assert control.status_code == 200, control.text


async def test_token_with_tampered_payload_is_401(client: httpx.AsyncClient) -> None:
    await sign_up(client, "bobby")
    bob_id = claims_of((await log_in(client, "bobby"))["access_token"])["sub"]
    _, tokens = await _alice(client)
    header, _, signature = tokens["access_token"].split(".")
    payload = {**claims_of(tokens["access_token"]), "sub": bob_id}
    tampered = f"{header}.{_b64(payload)}.{signature}"

    response = await client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {tampered}"})

    assert_unauthorized(response, "not_authenticated")


async def test_expired_token_is_401(client: httpx.AsyncClient, settings: Settings) -> None:
    user_id, tokens = await _alice(client)
    sid = claims_of(tokens["access_token"])["sid"]
    past = datetime.now(UTC) - timedelta(hours=1)
    expired = jwt.encode(
        {
            "sub": user_id,
            "sid": sid,
            "iss": settings.auth.jwt_issuer,
            "aud": settings.auth.jwt_audience,
            "iat": past - timedelta(minutes=15),
            "exp": past,
        },
        settings.auth.jwt_secret.get_secret_value(),
        algorithm="HS256",
    )

    response = await client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {expired}"})

    body = assert_unauthorized(response, "not_authenticated")
    assert "expired" in body["detail"]
    # The session itself is alive: only the expiry made the token fail.
    assert (await me(client, tokens)).status_code == 200


async def test_alg_none_token_is_401(client: httpx.AsyncClient) -> None:
    _, tokens = await _alice(client)
    claims = claims_of(tokens["access_token"])
    unsigned = jwt.encode(claims, key=None, algorithm="none")
    assert unsigned.endswith(".")

    response = await client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {unsigned}"})

    assert_unauthorized(response, "not_authenticated")


async def test_token_signed_with_another_hmac_algorithm_is_401(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    _, tokens = await _alice(client)
    claims = claims_of(tokens["access_token"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the test secret is short for HS512; irrelevant here
        hs512 = jwt.encode(claims, settings.auth.jwt_secret.get_secret_value(), algorithm="HS512")

    response = await client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {hs512}"})

    assert_unauthorized(response, "not_authenticated")


@pytest.mark.parametrize(
    "override",
    [
        {"aud": "someone-else"},
        {"iss": "someone-else"},
        {"sid": None},
        {"sub": None},
        {"exp": None},
        {"iat": None},
        {"sub": "not-a-uuid"},
    ],
    ids=["audience", "issuer", "no-sid", "no-sub", "no-exp", "no-iat", "bad-sub"],
)
async def test_validly_signed_token_with_wrong_claims_is_401(
    client: httpx.AsyncClient, settings: Settings, override: dict[str, object]
) -> None:
    _, tokens = await _alice(client)
    claims = {**claims_of(tokens["access_token"]), **override}
    claims = {key: value for key, value in claims.items() if value is not None}
    token = jwt.encode(claims, settings.auth.jwt_secret.get_secret_value(), algorithm="HS256")

    response = await client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})

    assert_unauthorized(response, "not_authenticated")


async def test_token_for_another_users_session_is_401(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    bob_id = await sign_up(client, "bobby")
    _, tokens = await _alice(client)
    alice_sid = claims_of(tokens["access_token"])["sid"]
    claims = {**claims_of(tokens["access_token"]), "sub": bob_id, "sid": alice_sid}
    token = jwt.encode(claims, settings.auth.jwt_secret.get_secret_value(), algorithm="HS256")

    response = await client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})

    assert_unauthorized(response, "session_revoked")


async def test_token_for_an_unknown_session_is_401(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    _, tokens = await _alice(client)
    claims = {**claims_of(tokens["access_token"]), "sid": "never-opened"}
    token = jwt.encode(claims, settings.auth.jwt_secret.get_secret_value(), algorithm="HS256")

    response = await client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})

    assert_unauthorized(response, "session_revoked")


async def test_token_for_a_session_that_expired_in_redis_is_401(
    client: httpx.AsyncClient, redis: Redis
) -> None:
    _, tokens = await _alice(client)
    sid = claims_of(tokens["access_token"])["sid"]
    assert await redis.delete(f"identity:session:{{{sid}}}") == 1  # what the TTL does eventually

    assert_unauthorized(await me(client, tokens), "session_revoked")
    assert_unauthorized(await refresh_raw(client, tokens["refresh_token"]), "session_revoked")


async def test_a_session_is_stored_without_the_refresh_secret(
    client: httpx.AsyncClient, redis: Redis, settings: Settings
) -> None:
    user_id, tokens = await _alice(client)
    sid, _, secret = tokens["refresh_token"].partition(".")

    stored = await redis.hgetall(f"identity:session:{{{sid}}}")

    assert stored["user"] == user_id
    assert secret not in stored.values()
    assert secret not in str(stored)
    ttl = await redis.ttl(f"identity:session:{{{sid}}}")
    assert 0 < ttl <= settings.auth.refresh_ttl_seconds


async def test_token_for_a_logged_out_session_is_401(client: httpx.AsyncClient) -> None:
    _, tokens = await _alice(client)
    assert (await client.post("/api/v1/auth/logout", headers=bearer(tokens))).status_code == 204

    assert_unauthorized(await me(client, tokens), "session_revoked")


# --- refresh -------------------------------------------------------------------------------


async def test_refresh_returns_new_working_tokens_for_the_same_session(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    user_id, tokens = await _alice(client)

    response = await refresh_raw(client, tokens["refresh_token"])

    assert response.status_code == 200, response.text
    fresh = response.json()
    assert fresh["token_type"] == "bearer"
    assert fresh["expires_in"] == settings.auth.access_ttl_seconds
    assert fresh["refresh_token"] != tokens["refresh_token"]
    assert claims_of(fresh["access_token"])["sid"] == claims_of(tokens["access_token"])["sid"]
    assert claims_of(fresh["access_token"])["sub"] == user_id
    assert fresh["csrf_token"] == tokens["csrf_token"]  # bound to the session, not the token
    assert (await me(client, fresh)).status_code == 200
    # The previous access token belongs to the same live session, so it keeps working.
    assert (await me(client, tokens)).status_code == 200


async def test_refresh_tokens_chain(client: httpx.AsyncClient) -> None:
    _, tokens = await _alice(client)
    seen = {tokens["refresh_token"]}

    for _ in range(5):
        response = await refresh_raw(client, tokens["refresh_token"])
        assert response.status_code == 200, response.text
        tokens = response.json()
        assert tokens["refresh_token"] not in seen
        seen.add(tokens["refresh_token"])

    assert (await me(client, tokens)).status_code == 200


async def test_reusing_an_old_refresh_token_revokes_the_whole_session(
    client: httpx.AsyncClient,
) -> None:
    _, tokens = await _alice(client)
    first = (await refresh_raw(client, tokens["refresh_token"])).json()
    second = (await refresh_raw(client, first["refresh_token"])).json()
    assert (await me(client, second)).status_code == 200

    replay = await refresh_raw(client, tokens["refresh_token"])

    body = assert_unauthorized(replay, "session_revoked")
    assert "already used" in body["detail"]
    assert_unauthorized(await me(client, second), "session_revoked")
    assert_unauthorized(await me(client, tokens), "session_revoked")
    assert_unauthorized(await refresh_raw(client, second["refresh_token"]), "session_revoked")


async def test_refresh_token_reuse_leaves_the_users_other_sessions_alone(
    client: httpx.AsyncClient,
) -> None:
    _, stolen = await _alice(client)
    other = await log_in(client, "alice")
    await refresh_raw(client, stolen["refresh_token"])

    assert_unauthorized(await refresh_raw(client, stolen["refresh_token"]), "session_revoked")

    assert (await me(client, other)).status_code == 200
    assert (await refresh_raw(client, other["refresh_token"])).status_code == 200


async def test_concurrent_refreshes_with_one_token_let_exactly_one_win(
    client: httpx.AsyncClient,
) -> None:
    _, tokens = await _alice(client)

    responses = await asyncio.gather(
        *(refresh_raw(client, tokens["refresh_token"]) for _ in range(5))
    )

    statuses = Counter(response.status_code for response in responses)
    assert statuses == {200: 1, 401: 4}
    for response in responses:
        if response.status_code == 401:
            assert_unauthorized(response, "session_revoked")
    # A replay happened, so the session is gone, winner's tokens included.
    assert_unauthorized(await me(client, tokens), "session_revoked")


@pytest.mark.parametrize(
    "refresh_token",
    ["no-dot-at-all", ".secret-only", "session-only.", "unknown-session.unknown-secret"],
)
async def test_malformed_or_unknown_refresh_token_is_401(
    client: httpx.AsyncClient, refresh_token: str
) -> None:
    _, tokens = await _alice(client)

    response = await refresh_raw(client, refresh_token)

    assert_unauthorized(response, "session_revoked")
    assert (await me(client, tokens)).status_code == 200


async def test_refresh_token_with_a_wrong_secret_is_refused_without_ending_the_session(
    client: httpx.AsyncClient,
) -> None:
    # The session id is no secret (it is in the access token), so a guessed secret must not
    # let anyone end somebody else's session; only a replayed, once-valid token does.
    _, tokens = await _alice(client)
    sid = tokens["refresh_token"].partition(".")[0]

    response = await refresh_raw(client, f"{sid}.guessed-secret")

    assert_unauthorized(response, "session_revoked")
    assert (await me(client, tokens)).status_code == 200
    assert (await refresh_raw(client, tokens["refresh_token"])).status_code == 200


async def test_refresh_without_any_token_is_401(client: httpx.AsyncClient) -> None:
    response = await refresh_raw(client, None)

    assert_unauthorized(response, "session_revoked")


async def test_refresh_token_over_512_characters_is_422(client: httpx.AsyncClient) -> None:
    response = await refresh_raw(client, "s." + "x" * 600)

    assert_problem(response, 422, "validation_error")


async def test_access_token_is_not_a_refresh_token(client: httpx.AsyncClient) -> None:
    _, tokens = await _alice(client)

    response = await refresh_raw(client, tokens["access_token"])

    assert_unauthorized(response, "session_revoked")
    assert (await me(client, tokens)).status_code == 200


async def test_refresh_fails_for_a_deactivated_user(
    client: httpx.AsyncClient, database_url: str
) -> None:
    team = await staffing(client, database_url)
    user_id, tokens = await _alice(client)
    assert (await deactivate(client, team.admin.tokens, user_id)).status_code == 204

    response = await refresh_raw(client, tokens["refresh_token"])

    assert_unauthorized(response, "session_revoked")


# --- log out -------------------------------------------------------------------------------


async def test_log_out_ends_the_session(client: httpx.AsyncClient, redis: Redis) -> None:
    _, tokens = await _alice(client)
    sid = claims_of(tokens["access_token"])["sid"]

    response = await client.post("/api/v1/auth/logout", headers=bearer(tokens))

    assert response.status_code == 204
    assert response.content == b""
    assert_unauthorized(await me(client, tokens), "session_revoked")
    assert_unauthorized(await refresh_raw(client, tokens["refresh_token"]), "session_revoked")
    assert await redis.exists(f"identity:session:{sid}") == 0


async def test_log_out_keeps_the_users_other_sessions(client: httpx.AsyncClient) -> None:
    _, phone = await _alice(client)
    laptop = await log_in(client, "alice")

    assert (await client.post("/api/v1/auth/logout", headers=bearer(phone))).status_code == 204

    assert (await me(client, laptop)).status_code == 200


async def test_log_out_twice_is_401_the_second_time(client: httpx.AsyncClient) -> None:
    _, tokens = await _alice(client)
    await client.post("/api/v1/auth/logout", headers=bearer(tokens))

    response = await client.post("/api/v1/auth/logout", headers=bearer(tokens))

    assert_unauthorized(response, "session_revoked")


async def test_log_out_without_a_token_is_401(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/auth/logout")

    assert_unauthorized(response, "not_authenticated")


async def test_log_out_everywhere_revokes_every_session_of_the_user(
    client: httpx.AsyncClient, redis: Redis
) -> None:
    user_id, phone = await _alice(client)
    laptop = await log_in(client, "alice")
    await sign_up(client, "bobby")
    bob = await log_in(client, "bobby")

    response = await client.post("/api/v1/auth/logout-all", headers=bearer(laptop))

    assert response.status_code == 200, response.text
    assert response.json() == {"revoked_sessions": 2}
    for tokens in (phone, laptop):
        assert_unauthorized(await me(client, tokens), "session_revoked")
        assert_unauthorized(await refresh_raw(client, tokens["refresh_token"]), "session_revoked")
    assert (await me(client, bob)).status_code == 200
    assert await redis.smembers(f"identity:user-sessions:{user_id}") == set()


async def test_log_out_everywhere_counts_only_live_sessions(client: httpx.AsyncClient) -> None:
    _, first = await _alice(client)
    second = await log_in(client, "alice")
    third = await log_in(client, "alice")
    assert (await client.post("/api/v1/auth/logout", headers=bearer(first))).status_code == 204

    response = await client.post("/api/v1/auth/logout-all", headers=bearer(third))

    assert response.json() == {"revoked_sessions": 2}
    assert_unauthorized(await me(client, second), "session_revoked")


async def test_log_out_everywhere_with_a_dead_session_is_401(client: httpx.AsyncClient) -> None:
    _, tokens = await _alice(client)
    await client.post("/api/v1/auth/logout", headers=bearer(tokens))

    response = await client.post("/api/v1/auth/logout-all", headers=bearer(tokens))

    assert_unauthorized(response, "session_revoked")


async def test_logging_in_again_after_log_out_everywhere_works(client: httpx.AsyncClient) -> None:
    _, tokens = await _alice(client)
    await client.post("/api/v1/auth/logout-all", headers=bearer(tokens))

    fresh = await log_in(client, "alice")

    assert (await me(client, fresh)).status_code == 200


async def test_empty_refresh_token_in_the_body_is_422(client: httpx.AsyncClient) -> None:
    response = await refresh_raw(client, "")

    assert_problem(response, 422, "validation_error")


async def test_a_session_ends_at_its_maximum_age_however_often_it_is_refreshed(
    make_client: ClientFactory, database_url: str, redis_url: str, redis: Redis
) -> None:
    max_age = 60  # far shorter than the idle TTL a refresh grants (14 days)
    short = await make_client(
        build_settings(database_url, redis_url, session_max_age_seconds=max_age)
    )
    _, tokens = await _alice(short)
    refreshed = await refresh_raw(short, tokens["refresh_token"])
    assert refreshed.status_code == 200
    session_id = refreshed.json()["refresh_token"].partition(".")[0]
    key = f"identity:session:{{{session_id}}}"
    # Redis drops the session by its maximum age, however it is refreshed...
    assert 0 < await redis.ttl(key) <= max_age
    # ...and a refresh after that age is refused. Time passes for the session: the store reads
    # the clock of Redis and of the OS (no Clock port to move), so the session's recorded start
    # moves back by its maximum age instead of the test sleeping through it.
    await redis.hincrby(key, "created", -max_age)

    assert_unauthorized(
        await refresh_raw(short, refreshed.json()["refresh_token"]), "session_revoked"
    )
