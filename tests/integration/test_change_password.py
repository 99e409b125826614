"""PUT /api/v1/users/me/password."""

from __future__ import annotations

import httpx
import pytest

from tests.integration.helpers import PASSWORD, bearer, log_in, sign_up
from tests.integration.support import (
    assert_problem,
    assert_unauthorized,
    log_in_raw,
    me,
    refresh_raw,
)
from tests.support.sql import sql_value

pytestmark = pytest.mark.integration

NEW_PASSWORD = "a brand new passphrase"


async def _change(
    client: httpx.AsyncClient,
    tokens: dict[str, str],
    new_password: str = NEW_PASSWORD,
    current_password: str = PASSWORD,
) -> httpx.Response:
    return await client.put(
        "/api/v1/users/me/password",
        json={"current_password": current_password, "new_password": new_password},
        headers=bearer(tokens),
    )


async def test_returns_204_and_swaps_the_password(client: httpx.AsyncClient) -> None:
    await sign_up(client, "alice")
    tokens = await log_in(client, "alice")

    response = await _change(client, tokens)

    assert response.status_code == 204, response.text
    assert response.content == b""
    assert_unauthorized(await log_in_raw(client, "alice", PASSWORD), "invalid_credentials")
    assert (await log_in_raw(client, "alice", NEW_PASSWORD)).status_code == 200
    assert (await log_in_raw(client, "alice@example.com", NEW_PASSWORD)).status_code == 200


async def test_revokes_the_other_sessions_and_keeps_the_current_one(
    client: httpx.AsyncClient,
) -> None:
    await sign_up(client, "alice")
    current = await log_in(client, "alice")
    phone = await log_in(client, "alice")
    laptop = await log_in(client, "alice")
    await sign_up(client, "bobby")
    bob = await log_in(client, "bobby")

    assert (await _change(client, current)).status_code == 204

    for other in (phone, laptop):
        assert_unauthorized(await me(client, other), "session_revoked")
        assert_unauthorized(await refresh_raw(client, other["refresh_token"]), "session_revoked")
    assert (await me(client, current)).status_code == 200
    refreshed = await refresh_raw(client, current["refresh_token"])
    assert refreshed.status_code == 200, refreshed.text
    assert (await me(client, refreshed.json())).status_code == 200
    assert (await me(client, bob)).status_code == 200


async def test_updates_the_stored_hash_and_updated_at(
    client: httpx.AsyncClient, database_url: str
) -> None:
    await sign_up(client, "alice")
    tokens = await log_in(client, "alice")
    before_hash = await sql_value(database_url, "SELECT password_hash FROM users")
    before = (await me(client, tokens)).json()

    assert (await _change(client, tokens)).status_code == 204

    after_hash = await sql_value(database_url, "SELECT password_hash FROM users")
    after = (await me(client, tokens)).json()
    assert after_hash != before_hash
    assert after_hash.startswith("$argon2id$")
    assert after["updated_at"] > before["updated_at"]
    assert after["created_at"] == before["created_at"]


async def test_wrong_current_password_is_403_and_changes_nothing(
    client: httpx.AsyncClient,
) -> None:
    await sign_up(client, "alice")
    tokens = await log_in(client, "alice")
    other = await log_in(client, "alice")

    response = await _change(client, tokens, current_password="not my password")

    assert_problem(response, 403, "wrong_password")
    assert (await log_in_raw(client, "alice", PASSWORD)).status_code == 200
    assert_unauthorized(await log_in_raw(client, "alice", NEW_PASSWORD), "invalid_credentials")
    assert (await me(client, other)).status_code == 200
    assert (await me(client, tokens)).status_code == 200


@pytest.mark.parametrize(
    "new_password",
    ["short", "z" * 129, " " * 10, "my ALICE password", "alice@example.com pw"],
    ids=["too-short", "too-long", "blank", "has-username", "has-email"],
)
async def test_weak_new_password_is_422_and_changes_nothing(
    client: httpx.AsyncClient, new_password: str
) -> None:
    await sign_up(client, "alice")
    tokens = await log_in(client, "alice")
    other = await log_in(client, "alice")

    response = await _change(client, tokens, new_password=new_password)

    assert_problem(response, 422, "weak_password")
    assert (await log_in_raw(client, "alice", PASSWORD)).status_code == 200
    assert (await me(client, other)).status_code == 200


async def test_wrong_current_password_wins_over_a_weak_new_one(client: httpx.AsyncClient) -> None:
    await sign_up(client, "alice")
    tokens = await log_in(client, "alice")

    response = await _change(client, tokens, new_password="short", current_password="nope nope")

    assert_problem(response, 403, "wrong_password")


async def test_missing_fields_are_422_without_echoing_passwords(
    client: httpx.AsyncClient,
) -> None:
    await sign_up(client, "alice")
    tokens = await log_in(client, "alice")

    response = await client.put(
        "/api/v1/users/me/password",
        json={"current_password": PASSWORD},
        headers=bearer(tokens),
    )

    problem = assert_problem(response, 422, "validation_error")
    assert ["body", "new_password"] in [error["loc"] for error in problem["errors"]]
    assert PASSWORD not in response.text


async def test_requires_authentication(client: httpx.AsyncClient) -> None:
    response = await client.put(
        "/api/v1/users/me/password",
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
    )

    assert_unauthorized(response, "not_authenticated")


async def test_a_revoked_session_cannot_change_the_password(client: httpx.AsyncClient) -> None:
    await sign_up(client, "alice")
    tokens = await log_in(client, "alice")
    await client.post("/api/v1/auth/logout", headers=bearer(tokens))

    response = await _change(client, tokens)

    assert_unauthorized(response, "session_revoked")
    assert (await log_in_raw(client, "alice", PASSWORD)).status_code == 200


async def test_changing_back_and_forth_works(client: httpx.AsyncClient) -> None:
    await sign_up(client, "alice")
    tokens = await log_in(client, "alice")

    assert (await _change(client, tokens)).status_code == 204
    back = await _change(client, tokens, new_password=PASSWORD, current_password=NEW_PASSWORD)

    assert back.status_code == 204, back.text
    assert (await log_in_raw(client, "alice", PASSWORD)).status_code == 200
