"""The dead-letter listing pages newest first by (failed_at, id), through the shared keyset
helper, and refuses a cursor it did not issue."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx

from app.shared.infrastructure.keyset import encode_cursor
from tests.integration.support import assert_problem, staffing

DEAD_LETTERS = "/api/v1/admin/dead-letters"
INSERT = (
    "INSERT INTO dead_letters (id, task_id, task_name, kwargs, error_type, error_message, "
    "retries, failed_at, requeued_at) VALUES ($1, $2, 'ordering.example', $3::jsonb, "
    "'KeyError', 'boom', 0, $4, $5)"
)


async def _record(database_url: str, letters: list[tuple[uuid.UUID, datetime, bool]]) -> None:
    connection = await asyncpg.connect(database_url.replace("+asyncpg", ""))
    try:
        for letter_id, failed_at, requeued in letters:
            requeued_at = failed_at + timedelta(minutes=1) if requeued else None
            arguments = json.dumps({"n": str(letter_id)})
            await connection.execute(
                INSERT, letter_id, str(letter_id), arguments, failed_at, requeued_at
            )
    finally:
        await connection.close()


async def _every_page(
    client: httpx.AsyncClient, headers: dict[str, str], params: dict[str, str]
) -> list[list[str]]:
    pages: list[list[str]] = []
    cursor: str | None = None
    while True:
        query = {**params, "limit": "2"} | ({"cursor": cursor} if cursor else {})
        response = await client.get(DEAD_LETTERS, params=query, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append([item["id"] for item in body["items"]])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages


async def test_dead_letters_page_newest_first_with_ties_broken_by_id(
    client: httpx.AsyncClient, database_url: str
) -> None:
    team = await staffing(client, database_url)
    start = datetime(2026, 1, 5, 12, tzinfo=UTC)
    # Three letters failed at the same instant: only the id orders them.
    moments = [start, start, start, start + timedelta(seconds=1), start - timedelta(hours=1)]
    letters = [(uuid.uuid4(), moment, False) for moment in moments]
    letters += [(uuid.uuid4(), start + timedelta(seconds=2), True)]
    await _record(database_url, letters)
    newest_first = [
        str(letter_id)
        for letter_id, _, _ in sorted(letters, key=lambda row: (row[1], row[0]), reverse=True)
    ]

    everything = await _every_page(client, team.admin.headers, {"pending_only": "false"})
    assert [len(page) for page in everything] == [2, 2, 2]
    assert [letter for page in everything for letter in page] == newest_first

    pending = await _every_page(client, team.admin.headers, {})
    requeued = str(letters[-1][0])
    assert [letter for page in pending for letter in page] == [
        letter for letter in newest_first if letter != requeued
    ]


async def test_a_cursor_the_dead_letter_listing_did_not_issue_is_422(
    client: httpx.AsyncClient, database_url: str
) -> None:
    team = await staffing(client, database_url)
    moment = datetime(2026, 1, 5, 12, tzinfo=UTC)
    await _record(database_url, [(uuid.uuid4(), moment, False), (uuid.uuid4(), moment, False)])
    first = await client.get(DEAD_LETTERS, params={"limit": 1}, headers=team.admin.headers)
    issued = first.json()["next_cursor"]
    assert issued is not None
    # A well-formed cursor of another listing (the orders'), and text that is no cursor.
    orders_cursor = encode_cursor("orders:-created_at", moment, uuid.uuid4())
    for cursor in (orders_cursor, "not-a-cursor", issued[:-2]):
        response = await client.get(
            DEAD_LETTERS, params={"cursor": cursor}, headers=team.admin.headers
        )
        assert_problem(response, 422, "invalid_cursor")
    second = await client.get(
        DEAD_LETTERS, params={"limit": 1, "cursor": issued}, headers=team.admin.headers
    )
    assert second.status_code == 200
    assert second.json()["next_cursor"] is None
    assert len(second.json()["items"]) == 1
