from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from app.identity.application.current_user import CurrentUser
from app.identity.application.permissions import CAN_MANAGE_USERS, ActorContext, authorize
from app.identity.application.ports.user_reader import UserReader, UserView
from app.identity.domain.errors import UserNotFoundError
from app.identity.domain.value_objects import UserId


@dataclass(frozen=True, slots=True, kw_only=True)
class GetUserRequest:
    user_id: UUID


class GetUser:
    """Admins look up any user by id."""

    def __init__(self, current_user: CurrentUser, reader: UserReader) -> None:
        self._current_user = current_user
        self._reader = reader

    async def __call__(self, request: GetUserRequest) -> UserView:
        authorize(CAN_MANAGE_USERS, context=ActorContext(await self._current_user.get()))
        view = await self._reader.get(UserId(request.user_id))
        if view is None:
            raise UserNotFoundError("No such user.", user_id=str(request.user_id))
        return view
