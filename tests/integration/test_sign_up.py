"""POST /api/v1/users: opening a customer account."""

from __future__ import annotations

import asyncio
from collections import Counter
from uuid import UUID

import httpx
import pytest

from tests.integration.helpers import PASSWORD, log_in
from tests.integration.support import assert_problem, log_in_raw, me, sign_up_raw
from tests.support.sql import sql_value

pytestmark = pytest.mark.integration


async def test_returns_201_with_location_and_id(client: httpx.AsyncClient) -> None:
    response = await sign_up_raw(client, "alice")

    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"id"}
    user_id = UUID(body["id"])
    assert response.headers["location"] == f"/api/v1/users/{user_id}"


async def test_new_account_is_an_active_customer_that_can_log_in(
    client: httpx.AsyncClient,
) -> None:
    user_id = (await sign_up_raw(client, "alice")).json()["id"]

    profile = (await me(client, await log_in(client, "alice"))).json()

    assert profile["id"] == user_id
    assert profile["username"] == "alice"
    assert profile["email"] == "alice@example.com"
    assert profile["role"] == "customer"
    assert profile["status"] == "active"
    assert "password" not in str(profile).lower()


async def test_username_and_email_are_stored_lowercased_and_trimmed(
    client: httpx.AsyncClient,
) -> None:
    response = await sign_up_raw(client, "  Alice.Smith ", email=" Alice.Smith@Example.COM ")
    assert response.status_code == 201, response.text

    profile = (await me(client, await log_in(client, "alice.smith"))).json()

    assert profile["username"] == "alice.smith"
    assert profile["email"] == "alice.smith@example.com"


async def test_password_is_stored_as_an_argon2_hash(
    client: httpx.AsyncClient, database_url: str
) -> None:
    await sign_up_raw(client, "alice")

    stored = await sql_value(
        database_url, "SELECT password_hash FROM users WHERE username = 'alice'"
    )

    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored


@pytest.mark.parametrize("taken_as", ["alice", "ALICE", "Alice", " aLiCe "])
async def test_returns_409_when_username_is_taken_in_any_case(
    client: httpx.AsyncClient, taken_as: str
) -> None:
    assert (await sign_up_raw(client, "alice")).status_code == 201

    response = await sign_up_raw(client, taken_as, email="someone.else@example.com")

    assert_problem(response, 409, "username_taken")


@pytest.mark.owasp("API2")
@pytest.mark.parametrize(
    "taken_as", ["alice@example.com", "ALICE@EXAMPLE.COM", "Alice@Example.com"]
)
async def test_a_taken_email_is_answered_like_a_new_one_and_its_owner_is_told(
    client: httpx.AsyncClient, database_url: str, taken_as: str
) -> None:
    # Security review, finding 6: 409 email_taken told anyone which addresses are registered.
    created = await sign_up_raw(client, "alice")
    assert created.status_code == 201
    owner_id = created.json()["id"]

    response = await sign_up_raw(client, "bobby", email=taken_as)

    assert response.status_code == 201, response.text
    assert set(response.json()) == set(created.json()) == {"id"}
    assert response.headers["Location"] == f"/api/v1/users/{response.json()['id']}"
    assert response.json()["id"] != owner_id
    assert await sql_value(database_url, "SELECT count(*) FROM users") == 1
    # Nothing was opened for the caller: bobby cannot log in.
    assert (await log_in_raw(client, "bobby", PASSWORD)).status_code == 401
    # The owner is told, through the outbox (tests/integration/test_worker_notifications.py
    # delivers it).
    notice = await sql_value(
        database_url,
        "SELECT aggregate_id::text FROM outbox_events WHERE event_type = 'SignUpWithTakenEmail'",
    )
    assert notice == owner_id


async def test_a_rejected_duplicate_creates_no_user(
    client: httpx.AsyncClient, database_url: str
) -> None:
    await sign_up_raw(client, "alice")
    await sign_up_raw(client, "ALICE", email="other@example.com")
    await sign_up_raw(client, "bobby", email="ALICE@example.com")

    count = await sql_value(database_url, "SELECT count(*) FROM users")

    assert count == 1


@pytest.mark.parametrize(
    "username",
    [
        "ab",  # too short
        "a" * 33,  # too long for the domain rule (the schema allows 64)
        "bad name",
        "-alice",
        "alice-",
        "al..ice",
        "al_-ice",
        "alice!",
        "ålice",
    ],
)
async def test_returns_422_invalid_username(client: httpx.AsyncClient, username: str) -> None:
    response = await sign_up_raw(client, username, email="valid@example.com")

    assert_problem(response, 422, "invalid_username")


@pytest.mark.parametrize("username", ["abc", "a" * 32, "a.b-c_d", "007"])
async def test_accepts_usernames_at_the_edges_of_the_rule(
    client: httpx.AsyncClient, username: str
) -> None:
    response = await sign_up_raw(client, username, email="valid@example.com")

    assert response.status_code == 201, response.text


@pytest.mark.parametrize(
    "email",
    [
        "not-an-email",
        "alice@localhost",
        "alice@@example.com",
        ".alice@example.com",
        "alice.@example.com",
        "al..ice@example.com",
        "alice@example.123",
        "alice@-example.com",
        "ali ce@example.com",
        "@example.com",
    ],
)
async def test_returns_422_invalid_email(client: httpx.AsyncClient, email: str) -> None:
    response = await sign_up_raw(client, "alice", email=email)

    assert_problem(response, 422, "invalid_email")


@pytest.mark.parametrize(
    ("username", "email", "password"),
    [
        ("alice", "alice@example.com", "short12"),  # 7 characters
        ("alice", "alice@example.com", "x" * 129),  # over 128
        ("alice", "alice@example.com", " " * 12),  # only white space
        ("gandalf", "mithrandir@example.com", "you shall GANDALF pass"),
        ("frodo1", "frodo.baggins@shire.org", "my Frodo.Baggins ring!"),
        ("samwise", "sam.gamgee@shire.org", "sam.gamgee@shire.org!!"),
    ],
    ids=["too-short", "too-long", "blank", "has-username", "has-email-local-part", "is-email"],
)
async def test_returns_422_weak_password(
    client: httpx.AsyncClient, username: str, email: str, password: str
) -> None:
    response = await sign_up_raw(client, username, email=email, password=password)

    body = assert_problem(response, 422, "weak_password")
    assert password not in response.text
    assert "errors" not in body


@pytest.mark.parametrize("password", ["x" * 8, "y" * 128])
async def test_accepts_passwords_of_8_and_128_characters(
    client: httpx.AsyncClient, password: str
) -> None:
    response = await sign_up_raw(client, "alice", password=password)

    assert response.status_code == 201, response.text
    assert (await log_in(client, "alice", password))["access_token"]


@pytest.mark.parametrize(
    ("body", "missing"),
    [
        ({"email": "a@example.com", "password": "hunter2-secret-value"}, "username"),
        ({"username": "alice", "password": "hunter2-secret-value"}, "email"),
        ({"username": "alice", "email": "a@example.com"}, "password"),
    ],
)
async def test_returns_422_validation_error_listing_the_missing_field(
    client: httpx.AsyncClient, body: dict[str, str], missing: str
) -> None:
    response = await client.post("/api/v1/users", json=body)

    problem = assert_problem(response, 422, "validation_error")
    assert isinstance(problem["errors"], list)
    assert ["body", missing] in [error["loc"] for error in problem["errors"]]
    for error in problem["errors"]:
        assert set(error) == {"loc", "msg", "type"}
    assert "hunter2-secret-value" not in response.text


async def test_validation_errors_never_echo_the_password(client: httpx.AsyncClient) -> None:
    secret = "Sup3r-Secret-" * 80  # over the 1024 hard limit: a validation error on password
    response = await client.post(
        "/api/v1/users",
        json={"username": "x" * 321, "email": "a" * 255, "password": secret},
    )

    problem = assert_problem(response, 422, "validation_error")
    locations = [error["loc"] for error in problem["errors"]]
    assert ["body", "password"] in locations
    assert ["body", "username"] in locations
    assert ["body", "email"] in locations
    assert "Sup3r-Secret" not in response.text
    assert "input" not in response.text


async def test_a_body_that_is_not_json_is_a_422(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/users", content=b"username=alice", headers={"Content-Type": "application/json"}
    )

    assert_problem(response, 422, "validation_error")


async def test_twenty_concurrent_sign_ups_with_one_username_create_exactly_one_user(
    client: httpx.AsyncClient, database_url: str
) -> None:
    responses = await asyncio.gather(
        *(sign_up_raw(client, "racer", email=f"racer{i}@example.com") for i in range(20))
    )

    statuses = Counter(response.status_code for response in responses)
    assert statuses == {201: 1, 409: 19}, [r.text for r in responses if r.status_code != 201]
    for response in responses:
        if response.status_code == 409:
            assert_problem(response, 409, "username_taken")
    assert await sql_value(database_url, "SELECT count(*) FROM users") == 1


EMAIL_SPELLINGS = ("racer@example.com", "RACER@EXAMPLE.COM", "Racer@Example.Com")


async def test_twenty_concurrent_sign_ups_with_one_email_in_mixed_case_create_one_user(
    client: httpx.AsyncClient, database_url: str
) -> None:
    responses = await asyncio.gather(
        *(
            sign_up_raw(client, f"racer{i}", email=EMAIL_SPELLINGS[i % len(EMAIL_SPELLINGS)])
            for i in range(20)
        )
    )

    # Every one is answered alike (finding 6); one account exists.
    statuses = Counter(response.status_code for response in responses)
    assert statuses == {201: 20}
    assert await sql_value(database_url, "SELECT count(*) FROM users") == 1
