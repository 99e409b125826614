"""Keyset cursors (app/shared/infrastructure/keyset.py) as the user reader uses them: opaque,
bound to one sort, and tamper-evident as 422s."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta, timezone
from uuid import UUID, uuid4

import pytest

from app.identity.application.ports.user_reader import UserSort
from app.shared.application.errors import InvalidCursorError
from app.shared.infrastructure.keyset import (
    Keyset,
    SqlParams,
    datetime_key,
    decode_cursor,
    encode_cursor,
    page_sql,
    text_key,
)

LAST_ID = UUID("0b6a4d5e-6c1f-4f0e-9d55-3b1fd1f4a2c7")


def _encode_cursor(sort: UserSort, key: str | datetime, last_id: UUID) -> str:
    return encode_cursor(sort.value, key, last_id)


def _decode_cursor(cursor: str, sort: UserSort) -> tuple[str | datetime, UUID]:
    parse_key = datetime_key if "created_at" in sort.value else text_key
    return decode_cursor(cursor, sort.value, parse_key)


def raw_cursor(payload: object) -> str:
    """A cursor as a client could forge it: urlsafe base64 of arbitrary JSON."""
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


@pytest.mark.parametrize("sort", [UserSort.USERNAME, UserSort.USERNAME_DESC])
@pytest.mark.parametrize("username", ["alice", "a.b-c_d", "x" * 32])
def test_username_cursor_round_trips(sort: UserSort, username: str) -> None:
    assert _decode_cursor(_encode_cursor(sort, username, LAST_ID), sort) == (username, LAST_ID)


@pytest.mark.parametrize("sort", [UserSort.CREATED_AT, UserSort.CREATED_AT_DESC])
@pytest.mark.parametrize(
    "created_at",
    [
        datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
        datetime(1999, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=-5))),
    ],
)
def test_created_at_cursor_round_trips_exactly(sort: UserSort, created_at: datetime) -> None:
    key, last_id = _decode_cursor(_encode_cursor(sort, created_at, LAST_ID), sort)
    assert key == created_at  # the same instant, normalised to UTC
    assert isinstance(key, datetime)
    assert key.utcoffset() == timedelta(0)
    assert last_id == LAST_ID


def test_cursor_is_url_safe_and_unpadded() -> None:
    for _ in range(20):
        cursor = _encode_cursor(UserSort.USERNAME, "alice?&/=+", uuid4())
        assert "=" not in cursor
        assert "+" not in cursor
        assert "/" not in cursor


@pytest.mark.parametrize(
    ("issued_for", "used_for"),
    [
        (UserSort.USERNAME, UserSort.USERNAME_DESC),
        (UserSort.USERNAME, UserSort.CREATED_AT),
        (UserSort.CREATED_AT, UserSort.CREATED_AT_DESC),
        (UserSort.CREATED_AT_DESC, UserSort.USERNAME),
    ],
)
def test_cursor_for_another_sort_is_rejected(issued_for: UserSort, used_for: UserSort) -> None:
    key: str | datetime = (
        datetime(2024, 1, 1, tzinfo=UTC) if "created_at" in issued_for.value else "alice"
    )
    cursor = _encode_cursor(issued_for, key, LAST_ID)
    with pytest.raises(InvalidCursorError):
        _decode_cursor(cursor, used_for)


@pytest.mark.parametrize(
    "cursor",
    ["", "!!!", "not a cursor", "%%%%", "é", "a", "abcde", "\x00\x01", "=" * 8],
)
def test_garbage_cursor_is_rejected(cursor: str) -> None:
    with pytest.raises(InvalidCursorError):
        _decode_cursor(cursor, UserSort.USERNAME)


@pytest.mark.parametrize("position", [0, 1, 2, 3])
def test_tampered_cursor_is_rejected(position: int) -> None:
    cursor = _encode_cursor(UserSort.USERNAME, "alice", LAST_ID)
    flipped = "A" if cursor[position] != "A" else "B"
    with pytest.raises(InvalidCursorError):
        _decode_cursor(cursor[:position] + flipped + cursor[position + 1 :], UserSort.USERNAME)


def test_single_character_tampering_never_crashes_the_decoder() -> None:
    cursor = _encode_cursor(UserSort.USERNAME, "alice", LAST_ID)
    for position in range(len(cursor)):
        for flipped in "A_-9z":
            tampered = cursor[:position] + flipped + cursor[position + 1 :]
            try:
                key, last_id = _decode_cursor(tampered, UserSort.USERNAME)
            except InvalidCursorError:
                continue
            # Some flips still decode (e.g. a hex digit of the id): then to well-typed values.
            assert isinstance(key, str)
            assert isinstance(last_id, UUID)


def test_truncated_cursor_is_rejected() -> None:
    cursor = _encode_cursor(UserSort.USERNAME, "alice", LAST_ID)
    with pytest.raises(InvalidCursorError):
        _decode_cursor(cursor[: len(cursor) // 2], UserSort.USERNAME)


@pytest.mark.parametrize(
    "payload",
    [
        None,
        5,
        "abc",
        {"sort": "username"},
        [],
        ["username", "alice"],
        ["username", "alice", str(LAST_ID), "extra"],
        ["username", "alice", "not-a-uuid"],
        ["username", "alice", None],
        ["created_at", "yesterday", str(LAST_ID)],
        ["created_at", 12345, str(LAST_ID)],
        ["created_at", None, str(LAST_ID)],
    ],
    ids=repr,
)
def test_forged_cursor_with_wrong_shape_is_rejected(payload: object) -> None:
    sort = (
        UserSort.CREATED_AT
        if isinstance(payload, list) and payload[:1] == ["created_at"]
        else (UserSort.USERNAME)
    )
    with pytest.raises(InvalidCursorError):
        _decode_cursor(raw_cursor(payload), sort)


@pytest.mark.parametrize("last_id", [12345, ["x"], {"id": 1}, 1.5, True])
def test_forged_cursor_with_non_string_id_is_rejected(last_id: object) -> None:
    with pytest.raises(InvalidCursorError):
        _decode_cursor(raw_cursor(["username", "alice", last_id]), UserSort.USERNAME)


NEWEST = Keyset("tests:-created_at", "created_at", datetime_key, descending=True)


def _rows(count: int) -> list[dict[str, object]]:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    return [{"id": uuid4(), "created_at": start - timedelta(minutes=n)} for n in range(count)]


def test_a_page_with_one_row_more_ends_with_the_cursor_of_its_last_item() -> None:
    rows = _rows(4)
    page = NEWEST.page(rows, 3, lambda row: row["id"])
    assert page["items"] == [row["id"] for row in rows[:3]]
    assert page["next_cursor"] is not None
    position = NEWEST.position(page["next_cursor"])
    assert position == (rows[2]["created_at"], rows[2]["id"])


@pytest.mark.parametrize("count", [0, 2, 3])
def test_a_page_without_a_row_more_is_the_last(count: int) -> None:
    page = NEWEST.page(_rows(count), 3, lambda row: row["id"])
    assert len(page["items"]) == count
    assert page["next_cursor"] is None


def test_a_keyset_refuses_the_cursor_of_another_listing() -> None:
    other = Keyset("tests:created_at", "created_at", datetime_key)
    cursor = encode_cursor("tests:created_at", datetime(2026, 1, 1, tzinfo=UTC), LAST_ID)
    assert other.position(cursor) is not None
    assert NEWEST.position(None) is None
    with pytest.raises(InvalidCursorError):
        NEWEST.position(cursor)


def test_the_sql_text_page_orders_by_key_then_id_and_fetches_one_row_more() -> None:
    params = SqlParams()
    params.where(f"status = {params('active')}")
    by_name = Keyset("name", "name", text_key, key_type="varchar")
    assert page_sql("SELECT id, name FROM products", params, by_name, limit=20) == (
        "SELECT id, name FROM products WHERE status = $1 ORDER BY name ASC, id ASC LIMIT $2"
    )
    assert params.values == ["active", 21]
