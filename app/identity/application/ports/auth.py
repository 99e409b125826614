"""Ports of authentication: server-side sessions, access tokens and the current caller."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NewType, Protocol

from app.identity.domain.value_objects import UserId

SessionId = NewType("SessionId", str)


@dataclass(frozen=True, slots=True, repr=False)
class OpenedSession:
    session_id: SessionId
    refresh_token: str


@dataclass(frozen=True, slots=True, repr=False)
class RotatedSession:
    session_id: SessionId
    user_id: UserId
    refresh_token: str
    credentials_version: int


@dataclass(frozen=True, slots=True, repr=False)
class AccessToken:
    token: str
    expires_in: int
    # Proof for cookie-authenticated writes (double submit, bound to the session).
    csrf_token: str


@dataclass(frozen=True, slots=True)
class AuthenticatedSession:
    user_id: UserId
    session_id: SessionId
    # The user's credentials version when the session was opened (User.credentials_version).
    credentials_version: int = 1


class SessionStore(Protocol):
    async def open(self, user_id: UserId, *, credentials_version: int) -> OpenedSession: ...

    async def rotate(self, refresh_token: str) -> RotatedSession:
        """Swap a refresh token for a new one.

        Raises AuthenticationError for an unknown or expired token; a token that was already
        rotated (a replay, so possibly stolen) revokes the whole session before raising.
        """
        ...

    async def credentials_version(self, session: AuthenticatedSession) -> int | None:
        """The credentials version the live session was opened with; None when it has ended
        (or is not this user's)."""
        ...

    async def renew(self, session_id: SessionId, *, credentials_version: int) -> None:
        """Carry the session over to new credentials (its owner just changed the password)."""
        ...

    async def revoke(self, session_id: SessionId) -> None: ...

    async def prune(self) -> int:
        """Drop index entries of sessions that expired on their own; returns how many."""
        ...

    async def revoke_all(self, user_id: UserId, *, keep: SessionId | None = None) -> int:
        """Revoke every session of the user except ``keep``; returns how many were revoked."""
        ...


class AccessTokenCodec(Protocol):
    def issue(self, user_id: UserId, session_id: SessionId) -> AccessToken: ...

    def decode(self, token: str) -> AuthenticatedSession:
        """Verify and read a token; raises AuthenticationError for any invalid one."""
        ...

    def csrf_token(self, session_id: SessionId) -> str: ...


class IdentityProvider(Protocol):
    async def current_session(self) -> AuthenticatedSession:
        """The caller's live session; raises AuthenticationError when there is none."""
        ...

    def has_credentials(self) -> bool:
        """Whether the caller sent any credentials at all (anonymous calls send none)."""
        ...
