from __future__ import annotations

from app.identity.application.current_user import CurrentUser
from app.identity.application.errors import SessionRevokedError
from app.identity.application.ports.user_reader import UserReader, UserView


class GetMe:
    """The caller's own profile."""

    def __init__(self, current_user: CurrentUser, reader: UserReader) -> None:
        self._current_user = current_user
        self._reader = reader

    async def __call__(self) -> UserView:
        # Through CurrentUser like every other use case: an inactive user, or a session opened
        # with a password that has changed since, is refused here too.
        user = await self._current_user.get()
        view = await self._reader.get(user.id_)
        if view is None:
            raise SessionRevokedError("Your session is no longer valid.")
        return view
