"""No response of any flow carries a password hash (or the password)."""

from __future__ import annotations

import httpx
import pytest

from tests.integration.helpers import PASSWORD, bearer, log_in, sign_up
from tests.integration.support import (
    assert_no_password_hash,
    grant,
    log_in_raw,
    record_responses,
    refresh_raw,
    sign_up_raw,
    staffing,
)
from tests.support.sql import sql_value

pytestmark = pytest.mark.integration


async def test_no_response_in_a_full_flow_contains_a_password_hash(
    client: httpx.AsyncClient, database_url: str
) -> None:
    responses = record_responses(client)

    team = await staffing(client, database_url)
    alice_id = await sign_up(client, "alice")
    await sign_up_raw(client, "ALICE", email="x@example.com")  # 409
    await sign_up_raw(client, "alice2", email="bad")  # 422
    await sign_up_raw(client, "alice3", password="short")  # 422
    await client.post("/api/v1/users", json={"username": "u", "password": PASSWORD})  # 422
    alice = await log_in(client, "alice")
    await log_in_raw(client, "alice", "wrong password")  # 401
    await log_in_raw(client, "alice", cookie=True)
    await client.post("/api/v1/auth/token", data={"username": "alice", "password": PASSWORD})
    await client.get("/api/v1/users/me", headers=bearer(alice))
    fresh = (await refresh_raw(client, alice["refresh_token"])).json()
    await refresh_raw(client, alice["refresh_token"])  # replay: 401
    alice = await log_in(client, "alice")
    await client.get("/api/v1/users", headers=team.admin.headers)
    await client.get("/api/v1/users", params={"search": "a", "limit": 1}, headers=team.root.headers)
    await client.get(f"/api/v1/users/{alice_id}", headers=team.admin.headers)
    await client.get(f"/api/v1/users/{alice_id}", headers=team.customer.headers)  # 403
    await grant(client, team.admin.tokens, alice_id, "staff")
    await client.put(
        "/api/v1/users/me/password",
        json={"current_password": "wrong", "new_password": "another fine passphrase"},
        headers=bearer(alice),
    )
    await client.put(
        "/api/v1/users/me/password",
        json={"current_password": PASSWORD, "new_password": "another fine passphrase"},
        headers=bearer(alice),
    )
    await client.post(f"/api/v1/users/{alice_id}/deactivate", headers=team.admin.headers)
    await client.get(f"/api/v1/users/{alice_id}", headers=team.admin.headers)
    await client.post("/api/v1/auth/logout", headers=bearer(fresh))
    await client.post("/api/v1/auth/logout-all", headers=team.staff.headers)

    stored = await sql_value(
        database_url, "SELECT password_hash FROM users WHERE username = 'alice'"
    )
    assert stored.startswith("$argon2"), "the check below would prove nothing"
    all_hashes = [
        await sql_value(database_url, "SELECT password_hash FROM users WHERE id = $1", user_id)
        for user_id in (team.root.id, team.admin.id, team.staff.id, team.customer.id)
    ]
    assert len(responses) >= 30
    assert_no_password_hash(responses, stored, *all_hashes)
    for response in responses:
        assert PASSWORD not in response.text
        assert "another fine passphrase" not in response.text
        assert "password_hash" not in response.text
