from __future__ import annotations

from app.identity.application.errors import SessionRevokedError
from app.identity.application.ports.auth import AuthenticatedSession, IdentityProvider
from app.identity.application.ports.user_repository import UserRepository
from app.identity.domain.user import User


class CurrentUser:
    """Resolves the caller to a live, active User entity (once per request)."""

    def __init__(self, identity: IdentityProvider, users: UserRepository) -> None:
        self._identity = identity
        self._users = users

    async def session(self) -> AuthenticatedSession:
        return await self._identity.current_session()

    async def get(self) -> User:
        session = await self._identity.current_session()
        user = await self._users.get_by_id(session.user_id)
        ensure_holder_is_live(
            session,
            active=user is not None and user.is_active,
            credentials_version=user.credentials_version if user is not None else None,
        )
        assert user is not None  # noqa: S101 - checked just above
        return user


def ensure_holder_is_live(
    session: AuthenticatedSession, *, active: bool, credentials_version: int | None
) -> None:
    """A session speaks for its user only while the user exists, is active, and still has the
    credentials the session was opened with."""
    if not active:
        raise SessionRevokedError("Your session is no longer valid.")
    if session.credentials_version != credentials_version:
        # Opened with a password that has changed since (a log-in racing the change).
        raise SessionRevokedError("Your password has changed; log in again.")
