"""AnsweredFromMemory's rules below the HTTP stack: which requests may be answered from memory
or kept, and which answers are kept (a 200 in one body message, nothing else)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from app.shared.presentation.http.response_cache import AnsweredFromMemory, _Keeper

ID = uuid.UUID("12345678-1234-5678-1234-567812345678")


class _Route(AnsweredFromMemory):
    cache_kind = "test:thing"
    id_param = "thing_id"

    def __init__(self) -> None:  # the rules only: no endpoint, no FastAPI route behind
        pass


def _scope(
    method: str = "GET", headers: list[tuple[bytes, bytes]] | None = None, **params: str
) -> Any:
    return {"method": method, "headers": headers or [], "path_params": params}


@pytest.mark.parametrize(
    ("scope", "key"),
    [
        (_scope(thing_id=str(ID)), str(ID)),
        (_scope(thing_id=str(ID).upper()), str(ID)),  # one key per product, however written
        (_scope(thing_id="not-a-uuid"), None),
        (_scope(thing_id=str(ID).replace("-", "")), None),  # the route takes it; not kept
        (_scope(thing_id="12345678-123456781234567812345678"), None),  # the route refuses it
        (_scope(), None),
        (_scope("POST", thing_id=str(ID)), None),
        (_scope(headers=[(b"authorization", b"Bearer x")], thing_id=str(ID)), None),
        (_scope(headers=[(b"cookie", b"a=1")], thing_id=str(ID)), None),
        (_scope(headers=[(b"accept", b"*/*")], thing_id=str(ID)), str(ID)),
    ],
    ids=[
        "id",
        "upper-case",
        "malformed",
        "no-hyphens",
        "odd-hyphens",
        "no-id",
        "post",
        "bearer",
        "cookie",
        "other-header",
    ],
)
def test_only_anonymous_gets_of_a_well_formed_id_have_a_key(scope: Any, key: str | None) -> None:
    assert _Route()._key(scope) == key


async def _sent(messages: list[dict[str, Any]]) -> tuple[Any, list[dict[str, Any]]]:
    passed: list[dict[str, Any]] = []

    async def send(message: Any) -> None:
        passed.append(message)

    keeper = _Keeper(send)
    for message in messages:
        await keeper.send(message)
    return keeper.answer, passed


_START = {
    "type": "http.response.start",
    "status": 200,
    "headers": [(b"content-type", b"application/json")],
}


async def test_a_200_in_one_body_message_is_kept_and_every_message_passed_on() -> None:
    body = {"type": "http.response.body", "body": b"{}"}
    answer, passed = await _sent([_START, body])
    assert answer == (((b"content-type", b"application/json"),), b"{}")
    assert passed == [_START, body]


async def test_a_streamed_answer_and_an_answer_other_than_200_are_not_kept() -> None:
    streamed, _ = await _sent(
        [
            _START,
            {"type": "http.response.body", "body": b"{", "more_body": True},
            {"type": "http.response.body", "body": b"}"},
        ]
    )
    assert streamed is None
    missing, _ = await _sent(
        [{**_START, "status": 404}, {"type": "http.response.body", "body": b"{}"}]
    )
    assert missing is None
