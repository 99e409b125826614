from __future__ import annotations

from typing import TypedDict

from app.identity.application.ports.auth import IdentityProvider, SessionStore


class LogOutEverywhereResponse(TypedDict):
    revoked_sessions: int


class LogOutEverywhere:
    """Ends every session of the caller, on every device, this one included."""

    def __init__(self, identity: IdentityProvider, sessions: SessionStore) -> None:
        self._identity = identity
        self._sessions = sessions

    async def __call__(self) -> LogOutEverywhereResponse:
        session = await self._identity.current_session()
        revoked = await self._sessions.revoke_all(session.user_id)
        return LogOutEverywhereResponse(revoked_sessions=revoked)
