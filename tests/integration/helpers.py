"""Small HTTP helpers shared by the integration tests (they read like the API they drive)."""

from __future__ import annotations

import httpx

PASSWORD = "correct horse battery staple"


async def sign_up(
    client: httpx.AsyncClient, username: str, *, email: str | None = None, password: str = PASSWORD
) -> str:
    response = await client.post(
        "/api/v1/users",
        json={
            "username": username,
            "email": email or f"{username}@example.com",
            "password": password,
        },
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def log_in(client: httpx.AsyncClient, login: str, password: str = PASSWORD) -> dict[str, str]:
    response = await client.post("/api/v1/auth/login", json={"login": login, "password": password})
    assert response.status_code == 200, response.text
    return dict(response.json())


def bearer(tokens: dict[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}
