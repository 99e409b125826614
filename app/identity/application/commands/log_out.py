from __future__ import annotations

from app.identity.application.ports.auth import IdentityProvider, SessionStore


class LogOut:
    """Ends the caller's current session; its access and refresh tokens stop working at once."""

    def __init__(self, identity: IdentityProvider, sessions: SessionStore) -> None:
        self._identity = identity
        self._sessions = sessions

    async def __call__(self) -> None:
        session = await self._identity.current_session()
        await self._sessions.revoke(session.session_id)
