from __future__ import annotations

from app.identity.application.errors import SessionRevokedError
from app.identity.application.ports.auth import IdentityProvider
from app.identity.application.ports.user_reader import UserReader, UserView


class GetMe:
    """The caller's own profile."""

    def __init__(self, identity: IdentityProvider, reader: UserReader) -> None:
        self._identity = identity
        self._reader = reader

    async def __call__(self) -> UserView:
        session = await self._identity.current_session()
        view = await self._reader.get(session.user_id)
        if view is None or view["status"] != "active":
            raise SessionRevokedError("Your session is no longer valid.")
        return view
