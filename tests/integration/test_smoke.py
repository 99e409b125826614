from __future__ import annotations

import httpx

from tests.integration.helpers import bearer, log_in, sign_up


async def test_signed_up_user_logs_in_and_reads_own_profile(client: httpx.AsyncClient) -> None:
    user_id = await sign_up(client, "alice")
    tokens = await log_in(client, "alice")
    response = await client.get("/api/v1/users/me", headers=bearer(tokens))
    assert response.status_code == 200
    assert response.json()["id"] == user_id
