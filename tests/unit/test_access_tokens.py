"""JwtAccessTokens: a token verified once is trusted again only until it expires."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from app.identity.application.ports.auth import SessionId
from app.identity.domain.value_objects import UserId
from app.identity.infrastructure import jwt_access_tokens
from app.identity.infrastructure.jwt_access_tokens import JwtAccessTokens
from app.shared.application.errors import AuthenticationError


class MovableClock:
    def __init__(self) -> None:
        self.moment = datetime.now(UTC)

    def now(self) -> datetime:
        return self.moment


def _tokens(clock: MovableClock, secret: str = "s" * 40) -> JwtAccessTokens:
    return JwtAccessTokens(
        secret=secret, ttl=timedelta(minutes=5), issuer="platform", audience="api", clock=clock
    )


def test_a_verified_token_decodes_to_the_same_session_again() -> None:
    clock = MovableClock()
    tokens = _tokens(clock)
    user_id, session_id = UserId(uuid4()), SessionId("session-1")
    token = tokens.issue(user_id, session_id).token
    first = tokens.decode(token)
    assert tokens.decode(token) == first
    assert (first.user_id, first.session_id) == (user_id, session_id)


def test_a_verified_token_is_refused_once_its_expiry_has_passed() -> None:
    clock = MovableClock()
    tokens = _tokens(clock)
    token = tokens.issue(UserId(uuid4()), SessionId("session-1")).token
    tokens.decode(token)
    clock.moment += timedelta(minutes=5)  # exp itself: expired, as PyJWT counts it
    with pytest.raises(AuthenticationError):
        tokens.decode(token)


def test_a_token_signed_with_another_secret_is_refused_even_after_a_good_one() -> None:
    clock = MovableClock()
    ours, theirs = _tokens(clock), _tokens(clock, secret="t" * 40)
    ours.decode(ours.issue(UserId(uuid4()), SessionId("session-1")).token)
    with pytest.raises(AuthenticationError):
        ours.decode(theirs.issue(UserId(uuid4()), SessionId("session-2")).token)


def test_the_verified_tokens_kept_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jwt_access_tokens, "_VERIFIED_CAPACITY", 3)
    clock = MovableClock()
    tokens = _tokens(clock)
    issued = [tokens.issue(UserId(uuid4()), SessionId(f"s{n}")).token for n in range(5)]
    for token in issued:
        tokens.decode(token)
    assert list(tokens._verified) == issued[2:]  # the bound is the point
