from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from app.identity.application.permissions import ensure_manages_users
from app.identity.application.ports.user_reader import UserReader, UserView
from app.identity.domain.errors import UserNotFoundError
from app.identity.domain.value_objects import UserId
from app.shared.application.actor import ActorProvider


@dataclass(frozen=True, slots=True, kw_only=True)
class GetUserRequest:
    user_id: UUID


class GetUser:
    """Admins look up any user by id."""

    def __init__(self, actors: ActorProvider, reader: UserReader) -> None:
        self._actors = actors  # a role check needs no entity: one narrow read
        self._reader = reader

    async def __call__(self, request: GetUserRequest) -> UserView:
        ensure_manages_users(await self._actors.current())
        view = await self._reader.get(UserId(request.user_id))
        if view is None:
            raise UserNotFoundError("No such user.", user_id=str(request.user_id))
        return view
