"""Admin endpoints: listing, reading, roles, (de)activation, and who may do what."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from typing import Any

import httpx
import pytest

from tests.integration.helpers import log_in, sign_up
from tests.integration.support import (
    Actor,
    Staffing,
    activate,
    assert_problem,
    assert_unauthorized,
    bootstrap_super_admin,
    deactivate,
    grant,
    log_in_raw,
    me,
    refresh_raw,
    revoke,
    sign_up_raw,
    user_with_role,
)

pytestmark = pytest.mark.integration

USERS = "/api/v1/users"


async def _list(client: httpx.AsyncClient, actor: Actor, **params: Any) -> httpx.Response:
    return await client.get(USERS, params=params, headers=actor.headers)


async def _page_all(
    client: httpx.AsyncClient, actor: Actor, **params: Any
) -> tuple[list[dict[str, Any]], int]:
    """Every item of a listing, following next_cursor; also how many pages it took."""
    items: list[dict[str, Any]] = []
    pages = 0
    cursor: str | None = None
    while True:
        query = dict(params) if cursor is None else {**params, "cursor": cursor}
        response = await _list(client, actor, **query)
        assert response.status_code == 200, response.text
        body = response.json()
        pages += 1
        items.extend(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return items, pages
        assert pages < 100, "pagination does not end"


async def _role_of(client: httpx.AsyncClient, actor: Actor, user_id: str) -> str:
    response = await client.get(f"{USERS}/{user_id}", headers=actor.headers)
    assert response.status_code == 200, response.text
    return str(response.json()["role"])


# --- bootstrap -----------------------------------------------------------------------------


async def test_bootstrapped_super_admin_sees_their_role(
    client: httpx.AsyncClient, database_url: str
) -> None:
    _, tokens = await bootstrap_super_admin(client, database_url)

    assert (await me(client, tokens)).json()["role"] == "super_admin"


async def test_staffing_gives_each_user_the_intended_role(
    client: httpx.AsyncClient, team: Staffing
) -> None:
    for actor, role in (
        (team.root, "super_admin"),
        (team.admin, "admin"),
        (team.staff, "staff"),
        (team.customer, "customer"),
    ):
        assert (await me(client, actor.tokens)).json()["role"] == role


# --- list ----------------------------------------------------------------------------------


async def test_list_returns_users_newest_first_by_default(
    client: httpx.AsyncClient, team: Staffing
) -> None:
    response = await _list(client, team.admin)

    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"items", "next_cursor"}
    assert body["next_cursor"] is None
    assert [item["username"] for item in body["items"]] == ["carl", "sam", "adam", "root"]
    for item in body["items"]:
        assert set(item) == {
            "id",
            "username",
            "email",
            "role",
            "status",
            "created_at",
            "updated_at",
        }


async def test_super_admin_may_list_users(client: httpx.AsyncClient, team: Staffing) -> None:
    response = await _list(client, team.root)

    assert response.status_code == 200
    assert len(response.json()["items"]) == 4


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("super_admin", ["root"]),
        ("admin", ["adam"]),
        ("staff", ["sam"]),
        ("customer", ["carl"]),
    ],
)
async def test_list_filters_by_role(
    client: httpx.AsyncClient, team: Staffing, role: str, expected: list[str]
) -> None:
    response = await _list(client, team.admin, role=role)

    assert [item["username"] for item in response.json()["items"]] == expected


async def test_list_filters_by_status(client: httpx.AsyncClient, team: Staffing) -> None:
    dormant_id = await sign_up(client, "dormant")
    assert (await deactivate(client, team.admin.tokens, dormant_id)).status_code == 204

    inactive = (await _list(client, team.admin, status="inactive")).json()["items"]
    active = (await _list(client, team.admin, status="active")).json()["items"]

    assert [item["username"] for item in inactive] == ["dormant"]
    assert inactive[0]["status"] == "inactive"
    assert sorted(item["username"] for item in active) == ["adam", "carl", "root", "sam"]


async def test_list_combines_filters(client: httpx.AsyncClient, team: Staffing) -> None:
    other_staff = await user_with_role(client, team.admin.tokens, "samantha", "staff")
    assert (await deactivate(client, team.admin.tokens, other_staff.id)).status_code == 204

    response = await _list(client, team.admin, role="staff", status="active")

    assert [item["username"] for item in response.json()["items"]] == ["sam"]


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ("ali", ["alice", "malik"]),
        ("ALI", ["alice", "malik"]),
        ("  ali  ", ["alice", "malik"]),
        ("shire.org", ["frodo"]),
        ("a_b", ["a_b1"]),
        ("%", []),
        ("zzz", []),
    ],
)
async def test_list_searches_username_and_email_case_insensitively(
    client: httpx.AsyncClient, team: Staffing, search: str, expected: list[str]
) -> None:
    await sign_up(client, "alice")
    await sign_up(client, "malik")
    await sign_up(client, "frodo", email="baggins@shire.org")
    await sign_up(client, "a_b1")
    await sign_up(client, "axb1")

    response = await _list(client, team.admin, search=search, sort="username")

    assert response.status_code == 200, response.text
    assert [item["username"] for item in response.json()["items"]] == expected


async def test_list_search_longer_than_64_characters_is_422(
    client: httpx.AsyncClient, team: Staffing
) -> None:
    response = await _list(client, team.admin, search="x" * 65)

    assert_problem(response, 422, "validation_error")


@pytest.mark.parametrize(
    ("param", "value"),
    [("role", "emperor"), ("status", "asleep"), ("sort", "email"), ("sort", "+username")],
)
async def test_list_rejects_unknown_filter_and_sort_values(
    client: httpx.AsyncClient, team: Staffing, param: str, value: str
) -> None:
    response = await _list(client, team.admin, **{param: value})

    problem = assert_problem(response, 422, "validation_error")
    assert ["query", param] in [error["loc"] for error in problem["errors"]]


@pytest.mark.parametrize("sort", ["username", "-username", "created_at", "-created_at"])
async def test_list_sorts(client: httpx.AsyncClient, team: Staffing, sort: str) -> None:
    for name in ("mike", "zara", "bert"):
        await sign_up(client, name)
    signed_up_order = ["root", "adam", "sam", "carl", "mike", "zara", "bert"]

    items = (await _list(client, team.admin, sort=sort)).json()["items"]

    names = [item["username"] for item in items]
    expected = {
        "username": sorted(signed_up_order),
        "-username": sorted(signed_up_order, reverse=True),
        "created_at": signed_up_order,
        "-created_at": signed_up_order[::-1],
    }[sort]
    assert names == expected
    stamps = [item["created_at"] for item in items]
    if sort == "created_at":
        assert stamps == sorted(stamps)
    elif sort == "-created_at":
        assert stamps == sorted(stamps, reverse=True)


@pytest.mark.parametrize("sort", ["username", "-username", "created_at", "-created_at"])
@pytest.mark.parametrize("limit", [1, 3, 7])
async def test_keyset_pagination_visits_every_user_once(
    client: httpx.AsyncClient, team: Staffing, sort: str, limit: int
) -> None:
    for i in range(17):
        await sign_up(client, f"user{i:02d}")
    everyone = (await _list(client, team.admin, sort=sort, limit=100)).json()["items"]
    assert len(everyone) == 21

    items, pages = await _page_all(client, team.admin, sort=sort, limit=limit)

    ids = [item["id"] for item in items]
    assert len(ids) == len(set(ids)), "a user appeared on two pages"
    assert ids == [item["id"] for item in everyone], "pages skip or reorder users"
    assert pages == -(-21 // limit)


async def test_keyset_pagination_with_a_filter(client: httpx.AsyncClient, team: Staffing) -> None:
    for i in range(9):
        await sign_up(client, f"pager{i}")
    await sign_up(client, "other1")

    items, pages = await _page_all(client, team.admin, search="pager", sort="-username", limit=4)

    assert [item["username"] for item in items] == [f"pager{i}" for i in range(8, -1, -1)]
    assert pages == 3


async def test_pagination_is_stable_when_users_are_added_between_pages(
    client: httpx.AsyncClient, team: Staffing
) -> None:
    for name in ("bert", "dina", "fred", "hugo"):
        await sign_up(client, name)
    first = (await _list(client, team.admin, sort="username", limit=3)).json()
    assert [i["username"] for i in first["items"]] == ["adam", "bert", "carl"]

    await sign_up(client, "abel")  # sorts before the cursor: must not appear on later pages
    await sign_up(client, "dave")  # sorts after: must appear
    rest, _ = await _page_all(
        client, team.admin, sort="username", limit=3, cursor=first["next_cursor"]
    )

    assert [i["username"] for i in rest] == ["dave", "dina", "fred", "hugo", "root", "sam"]


async def test_pagination_by_username_handles_punctuation(
    client: httpx.AsyncClient, team: Staffing
) -> None:
    for name in ("a.b", "a-b", "a_b", "ab0", "a.c", "a0b", "a-a", "a_c"):
        await sign_up(client, name, email=f"{name.replace('.', 'dot')}@example.org")
    for sort in ("username", "-username"):
        everyone = (await _list(client, team.admin, sort=sort, limit=100)).json()["items"]

        items, _ = await _page_all(client, team.admin, sort=sort, limit=1)

        assert [i["id"] for i in items] == [i["id"] for i in everyone], sort
        assert len(items) == 12


async def test_pagination_by_creation_time_survives_concurrent_sign_ups(
    client: httpx.AsyncClient, team: Staffing
) -> None:
    responses = await asyncio.gather(*(sign_up_raw(client, f"burst{i:02d}") for i in range(20)))
    assert all(response.status_code == 201 for response in responses)
    for sort in ("created_at", "-created_at"):
        everyone = (await _list(client, team.admin, sort=sort, limit=100)).json()["items"]

        items, pages = await _page_all(client, team.admin, sort=sort, limit=3)

        assert [i["id"] for i in items] == [i["id"] for i in everyone], sort
        assert len({i["id"] for i in items}) == 24
        assert pages == 8


async def test_exact_multiple_of_limit_ends_without_an_empty_page(
    client: httpx.AsyncClient, team: Staffing
) -> None:
    response = await _list(client, team.admin, limit=4)

    assert len(response.json()["items"]) == 4
    assert response.json()["next_cursor"] is None


@pytest.mark.parametrize("limit", [0, -1, 101, 1000])
async def test_limit_outside_1_to_100_is_422(
    client: httpx.AsyncClient, team: Staffing, limit: int
) -> None:
    response = await _list(client, team.admin, limit=limit)

    problem = assert_problem(response, 422, "validation_error")
    assert ["query", "limit"] in [error["loc"] for error in problem["errors"]]


@pytest.mark.parametrize("limit", [1, 100])
async def test_limit_bounds_are_accepted(
    client: httpx.AsyncClient, team: Staffing, limit: int
) -> None:
    response = await _list(client, team.admin, limit=limit)

    assert response.status_code == 200
    assert len(response.json()["items"]) == min(limit, 4)


# A fixed id: parameters are test ids, which every pytest-xdist process must collect alike.
SOME_ID = uuid.UUID("23b1fb09-df0c-48d0-9858-7075f15015ef")


def _cursor(payload: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        "!!!!",
        _cursor({"not": "a list"}),
        _cursor(["-created_at", "not-a-date", str(SOME_ID)]),
        _cursor(["-created_at", "2024-01-01T00:00:00+00:00", "not-a-uuid"]),
        _cursor(["-created_at", "2024-01-01T00:00:00+00:00"]),
        _cursor(["username", "adam", str(SOME_ID)]),  # issued for another sort
        _cursor("just a string"),
        _cursor(None),
    ],
)
async def test_invalid_cursor_is_422_invalid_cursor(
    client: httpx.AsyncClient, team: Staffing, cursor: str
) -> None:
    response = await _list(client, team.admin, cursor=cursor)

    assert_problem(response, 422, "invalid_cursor")


@pytest.mark.parametrize(
    "moment", ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00"], ids=["max", "min"]
)
async def test_forged_cursor_with_an_out_of_range_time_is_422_invalid_cursor(
    client: httpx.AsyncClient, team: Staffing, moment: str
) -> None:
    # Python parses these, PostgreSQL cannot store them; a cursor the reader did not issue must
    # be a 422, never a 500.
    cursor = _cursor(["-created_at", moment, str(uuid.uuid4())])

    response = await _list(client, team.admin, cursor=cursor)

    assert_problem(response, 422, "invalid_cursor")


async def test_forged_cursor_with_a_nul_character_is_422_invalid_cursor(
    client: httpx.AsyncClient, team: Staffing
) -> None:
    cursor = _cursor(["username", "a\u0000b", str(uuid.uuid4())])

    response = await _list(client, team.admin, sort="username", cursor=cursor)

    assert_problem(response, 422, "invalid_cursor")


async def test_search_with_a_nul_character_is_a_client_error(
    client: httpx.AsyncClient, team: Staffing
) -> None:
    response = await _list(client, team.admin, search="a\u0000b")

    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_cursor_from_another_sort_is_422_invalid_cursor(
    client: httpx.AsyncClient, team: Staffing
) -> None:
    cursor = (await _list(client, team.admin, sort="username", limit=1)).json()["next_cursor"]
    assert cursor

    response = await _list(client, team.admin, sort="-username", cursor=cursor)

    assert_problem(response, 422, "invalid_cursor")


async def test_cursor_longer_than_512_characters_is_422(
    client: httpx.AsyncClient, team: Staffing
) -> None:
    response = await _list(client, team.admin, cursor="a" * 513)

    assert_problem(response, 422, "validation_error")


# --- get -----------------------------------------------------------------------------------


async def test_get_user_returns_the_profile(client: httpx.AsyncClient, team: Staffing) -> None:
    response = await client.get(f"{USERS}/{team.customer.id}", headers=team.admin.headers)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == team.customer.id
    assert body["username"] == "carl"
    assert body["email"] == "carl@example.com"
    assert body["role"] == "customer"
    assert body["status"] == "active"
    assert "password_hash" not in body


async def test_admin_may_read_a_peer_and_a_superior(
    client: httpx.AsyncClient, team: Staffing
) -> None:
    other_admin = await user_with_role(client, team.root.tokens, "alma", "admin")

    for user_id in (other_admin.id, team.root.id, team.admin.id):
        response = await client.get(f"{USERS}/{user_id}", headers=team.admin.headers)
        assert response.status_code == 200, response.text


async def test_get_unknown_user_is_404_user_not_found(
    client: httpx.AsyncClient, team: Staffing
) -> None:
    unknown = uuid.uuid4()

    response = await client.get(f"{USERS}/{unknown}", headers=team.admin.headers)

    body = assert_problem(response, 404, "user_not_found")
    assert body["user_id"] == str(unknown)


@pytest.mark.parametrize("user_id", ["not-a-uuid", "123", "me2"])
async def test_get_user_with_a_non_uuid_id_is_422(
    client: httpx.AsyncClient, team: Staffing, user_id: str
) -> None:
    response = await client.get(f"{USERS}/{user_id}", headers=team.admin.headers)

    problem = assert_problem(response, 422, "validation_error")
    assert ["path", "user_id"] in [error["loc"] for error in problem["errors"]]


# --- grant role ----------------------------------------------------------------------------


async def test_admin_grants_staff(client: httpx.AsyncClient, team: Staffing) -> None:
    response = await grant(client, team.admin.tokens, team.customer.id, "staff")

    assert response.status_code == 204, response.text
    assert response.content == b""
    assert await _role_of(client, team.admin, team.customer.id) == "staff"
    # The new role takes effect on the user's existing session.
    assert (await me(client, team.customer.tokens)).json()["role"] == "staff"


async def test_granting_a_role_updates_updated_at(
    client: httpx.AsyncClient, team: Staffing
) -> None:
    path = f"{USERS}/{team.customer.id}"
    before = (await client.get(path, headers=team.admin.headers)).json()

    await grant(client, team.admin.tokens, team.customer.id, "staff")

    after = (await client.get(path, headers=team.admin.headers)).json()
    assert after["updated_at"] > before["updated_at"]


async def test_admin_may_demote_staff_to_customer_by_granting(
    client: httpx.AsyncClient, team: Staffing
) -> None:
    response = await grant(client, team.admin.tokens, team.staff.id, "customer")

    assert response.status_code == 204, response.text
    assert await _role_of(client, team.admin, team.staff.id) == "customer"


@pytest.mark.parametrize("role", ["admin", "super_admin"])
async def test_admin_cannot_grant_admin_or_super_admin(
    client: httpx.AsyncClient, team: Staffing, role: str
) -> None:
    response = await grant(client, team.admin.tokens, team.customer.id, role)

    assert_problem(response, 403, "forbidden")
    assert await _role_of(client, team.admin, team.customer.id) == "customer"


async def test_super_admin_grants_admin(client: httpx.AsyncClient, team: Staffing) -> None:
    response = await grant(client, team.root.tokens, team.customer.id, "admin")

    assert response.status_code == 204, response.text
    assert await _role_of(client, team.root, team.customer.id) == "admin"
    # The promoted user can use admin endpoints at once.
    assert (await _list(client, team.customer)).status_code == 200


async def test_nobody_can_grant_super_admin(client: httpx.AsyncClient, team: Staffing) -> None:
    # The super admin does not outrank the role, so the permission check refuses it (403)
    # before the domain's "not assignable" rule (422) is reached.
    response = await grant(client, team.root.tokens, team.customer.id, "super_admin")

    assert_problem(response, 403, "forbidden")
    assert await _role_of(client, team.root, team.customer.id) == "customer"


async def test_grant_to_an_unknown_user_is_404(client: httpx.AsyncClient, team: Staffing) -> None:
    response = await grant(client, team.admin.tokens, str(uuid.uuid4()), "staff")

    assert_problem(response, 404, "user_not_found")


async def test_grant_of_an_unknown_role_is_422(client: httpx.AsyncClient, team: Staffing) -> None:
    response = await grant(client, team.admin.tokens, team.customer.id, "emperor")

    problem = assert_problem(response, 422, "validation_error")
    assert ["path", "role"] in [error["loc"] for error in problem["errors"]]


async def test_granting_the_role_already_held_is_idempotent(
    client: httpx.AsyncClient, team: Staffing
) -> None:
    response = await grant(client, team.admin.tokens, team.staff.id, "staff")

    assert response.status_code == 204
    assert await _role_of(client, team.admin, team.staff.id) == "staff"


# --- revoke role ---------------------------------------------------------------------------


async def test_revoking_a_role_makes_the_user_a_customer(
    client: httpx.AsyncClient, team: Staffing
) -> None:
    response = await revoke(client, team.admin.tokens, team.staff.id, "staff")

    assert response.status_code == 204, response.text
    assert await _role_of(client, team.admin, team.staff.id) == "customer"
    assert_problem(await _list(client, team.staff), 403, "forbidden")


async def test_super_admin_revokes_admin(client: httpx.AsyncClient, team: Staffing) -> None:
    response = await revoke(client, team.root.tokens, team.admin.id, "admin")

    assert response.status_code == 204, response.text
    assert await _role_of(client, team.root, team.admin.id) == "customer"
    assert_problem(await _list(client, team.admin), 403, "forbidden")


async def test_revoking_a_role_the_user_lacks_is_409_role_not_held(
    client: httpx.AsyncClient, team: Staffing
) -> None:
    response = await revoke(client, team.root.tokens, team.staff.id, "admin")

    body = assert_problem(response, 409, "role_not_held")
    assert body["current_role"] == "staff"
    assert await _role_of(client, team.root, team.staff.id) == "staff"


@pytest.mark.parametrize("role", ["staff", "customer"])
async def test_revoking_from_a_customer_is_409_role_not_held(
    client: httpx.AsyncClient, team: Staffing, role: str
) -> None:
    response = await revoke(client, team.admin.tokens, team.customer.id, role)

    body = assert_problem(response, 409, "role_not_held")
    assert body["current_role"] == "customer"


async def test_admin_cannot_revoke_admin_from_a_peer(
    client: httpx.AsyncClient, team: Staffing
) -> None:
    peer = await user_with_role(client, team.root.tokens, "alma", "admin")

    response = await revoke(client, team.admin.tokens, peer.id, "admin")

    assert_problem(response, 403, "forbidden")
    assert await _role_of(client, team.root, peer.id) == "admin"


async def test_revoke_for_an_unknown_user_is_404(client: httpx.AsyncClient, team: Staffing) -> None:
    response = await revoke(client, team.admin.tokens, str(uuid.uuid4()), "staff")

    assert_problem(response, 404, "user_not_found")


# --- deactivate / activate -----------------------------------------------------------------


async def test_deactivation_kills_every_session_and_blocks_login(
    client: httpx.AsyncClient, team: Staffing
) -> None:
    second = await log_in(client, "carl")

    response = await deactivate(client, team.admin.tokens, team.customer.id)

    assert response.status_code == 204, response.text
    for tokens in (team.customer.tokens, second):
        assert_unauthorized(await me(client, tokens), "session_revoked")
        assert_unauthorized(await refresh_raw(client, tokens["refresh_token"]), "session_revoked")
    assert_unauthorized(await log_in_raw(client, "carl"), "invalid_credentials")
    body = (await client.get(f"{USERS}/{team.customer.id}", headers=team.admin.headers)).json()
    assert body["status"] == "inactive"


async def test_deactivated_staff_loses_access_immediately(
    client: httpx.AsyncClient, team: Staffing
) -> None:
    assert (await deactivate(client, team.admin.tokens, team.staff.id)).status_code == 204

    assert_unauthorized(await _list(client, team.staff), "session_revoked")


async def test_deactivating_twice_is_harmless(client: httpx.AsyncClient, team: Staffing) -> None:
    assert (await deactivate(client, team.admin.tokens, team.customer.id)).status_code == 204

    response = await deactivate(client, team.admin.tokens, team.customer.id)

    assert response.status_code == 204
    assert_unauthorized(await log_in_raw(client, "carl"), "invalid_credentials")


async def test_activation_lets_the_user_log_in_again_but_old_sessions_stay_dead(
    client: httpx.AsyncClient, team: Staffing
) -> None:
    await deactivate(client, team.admin.tokens, team.customer.id)

    response = await activate(client, team.admin.tokens, team.customer.id)

    assert response.status_code == 204, response.text
    fresh = await log_in(client, "carl")
    assert (await me(client, fresh)).json()["status"] == "active"
    assert_unauthorized(await me(client, team.customer.tokens), "session_revoked")


async def test_activating_an_active_user_is_harmless(
    client: httpx.AsyncClient, team: Staffing
) -> None:
    response = await activate(client, team.admin.tokens, team.customer.id)

    assert response.status_code == 204
    assert (await me(client, team.customer.tokens)).status_code == 200


async def test_super_admin_may_deactivate_an_admin(
    client: httpx.AsyncClient, team: Staffing
) -> None:
    response = await deactivate(client, team.root.tokens, team.admin.id)

    assert response.status_code == 204
    assert_unauthorized(await _list(client, team.admin), "session_revoked")
    assert_unauthorized(await log_in_raw(client, "adam"), "invalid_credentials")


@pytest.mark.parametrize("action", [deactivate, activate])
async def test_deactivate_and_activate_an_unknown_user_is_404(
    client: httpx.AsyncClient, team: Staffing, action: Any
) -> None:
    response = await action(client, team.admin.tokens, str(uuid.uuid4()))

    assert_problem(response, 404, "user_not_found")


@pytest.mark.parametrize("path", ["deactivate", "activate"])
async def test_deactivate_and_activate_with_a_non_uuid_is_422(
    client: httpx.AsyncClient, team: Staffing, path: str
) -> None:
    response = await client.post(f"{USERS}/nope/{path}", headers=team.admin.headers)

    assert_problem(response, 422, "validation_error")


# --- who may act on whom -------------------------------------------------------------------


def _management_calls(target: str) -> list[tuple[str, str]]:
    return [
        ("PUT", f"{USERS}/{target}/roles/staff"),
        ("PUT", f"{USERS}/{target}/roles/customer"),
        ("DELETE", f"{USERS}/{target}/roles/admin"),
        ("POST", f"{USERS}/{target}/deactivate"),
        ("POST", f"{USERS}/{target}/activate"),
    ]


async def test_admin_cannot_act_on_a_peer_admin(client: httpx.AsyncClient, team: Staffing) -> None:
    peer = await user_with_role(client, team.root.tokens, "alma", "admin")

    for method, path in _management_calls(peer.id):
        response = await client.request(method, path, headers=team.admin.headers)
        assert_problem(response, 403, "forbidden")

    assert await _role_of(client, team.root, peer.id) == "admin"
    assert (await me(client, peer.tokens)).status_code == 200


async def test_admin_cannot_act_on_themselves(client: httpx.AsyncClient, team: Staffing) -> None:
    for method, path in _management_calls(team.admin.id):
        response = await client.request(method, path, headers=team.admin.headers)
        assert_problem(response, 403, "forbidden")

    assert (await me(client, team.admin.tokens)).json()["role"] == "admin"


async def test_admin_cannot_act_on_the_super_admin(
    client: httpx.AsyncClient, team: Staffing
) -> None:
    for method, path in _management_calls(team.root.id):
        response = await client.request(method, path, headers=team.admin.headers)
        assert_problem(response, 403, "forbidden")

    assert (await me(client, team.root.tokens)).json()["role"] == "super_admin"


async def test_super_admin_cannot_act_on_themselves(
    client: httpx.AsyncClient, team: Staffing
) -> None:
    for method, path in _management_calls(team.root.id):
        response = await client.request(method, path, headers=team.root.headers)
        assert_problem(response, 403, "forbidden")

    assert (await me(client, team.root.tokens)).json()["role"] == "super_admin"


def _admin_calls(target: str) -> list[tuple[str, str]]:
    return [
        ("GET", USERS),
        ("GET", f"{USERS}/{target}"),
        *_management_calls(target),
    ]


@pytest.mark.parametrize("who", ["customer", "staff"])
async def test_customers_and_staff_get_403_on_every_admin_endpoint(
    client: httpx.AsyncClient, team: Staffing, who: str
) -> None:
    actor: Actor = getattr(team, who)
    victim = await sign_up(client, "victim")

    for target in (victim, str(uuid.uuid4()), actor.id):
        for method, path in _admin_calls(target):
            response = await client.request(method, path, headers=actor.headers)
            assert_problem(response, 403, "forbidden")

    assert (await log_in_raw(client, "victim")).status_code == 200
    assert (await me(client, actor.tokens)).json()["role"] == who


async def test_admin_endpoints_need_authentication(
    client: httpx.AsyncClient, team: Staffing
) -> None:
    for method, path in _admin_calls(team.customer.id):
        response = await client.request(method, path)
        assert_unauthorized(response, "not_authenticated")


async def test_a_logged_out_admin_cannot_use_admin_endpoints(
    client: httpx.AsyncClient, team: Staffing
) -> None:
    await client.post("/api/v1/auth/logout", headers=team.admin.headers)

    for method, path in _admin_calls(team.customer.id):
        response = await client.request(method, path, headers=team.admin.headers)
        assert_unauthorized(response, "session_revoked")


async def test_a_demoted_admin_loses_admin_powers_on_the_same_session(
    client: httpx.AsyncClient, team: Staffing
) -> None:
    assert (await revoke(client, team.root.tokens, team.admin.id, "admin")).status_code == 204

    response = await deactivate(client, team.admin.tokens, team.customer.id)

    assert_problem(response, 403, "forbidden")
    assert (await me(client, team.customer.tokens)).status_code == 200


async def test_staff_granted_by_an_admin_can_be_managed_by_another_admin(
    client: httpx.AsyncClient, team: Staffing
) -> None:
    other_admin = await user_with_role(client, team.root.tokens, "alma", "admin")

    response = await deactivate(client, other_admin.tokens, team.staff.id)

    assert response.status_code == 204
    assert_unauthorized(await me(client, team.staff.tokens), "session_revoked")
