from __future__ import annotations

from app.identity.application.errors import SessionRevokedError
from app.identity.application.ports.user_reader import UserReader, UserView
from app.identity.domain.value_objects import UserId
from app.shared.application.actor import ActorProvider


class GetMe:
    """The caller's own profile."""

    def __init__(self, actors: ActorProvider, reader: UserReader) -> None:
        self._actors = actors
        self._reader = reader

    async def __call__(self) -> UserView:
        # The actor's checks are CurrentUser's (exists, active, same credentials), on one row.
        actor = await self._actors.current()
        view = await self._reader.get(UserId(actor.user_id))
        if view is None:
            raise SessionRevokedError("Your session is no longer valid.")
        return view
