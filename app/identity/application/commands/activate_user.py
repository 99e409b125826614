from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from app.identity.application.current_user import CurrentUser
from app.identity.application.managed_user import load_managed_user
from app.identity.application.ports.user_repository import UserRepository
from app.identity.domain.value_objects import UserId
from app.shared.application.ports import Clock, TransactionManager


@dataclass(frozen=True, slots=True, kw_only=True)
class ActivateUserRequest:
    user_id: UUID


class ActivateUser:
    """Lets a deactivated user log in again (old sessions stay revoked)."""

    def __init__(
        self,
        current_user: CurrentUser,
        users: UserRepository,
        transaction: TransactionManager,
        clock: Clock,
    ) -> None:
        self._current_user = current_user
        self._users = users
        self._transaction = transaction
        self._clock = clock

    async def __call__(self, request: ActivateUserRequest) -> None:
        _, subject = await load_managed_user(
            self._current_user, self._users, UserId(request.user_id)
        )
        subject.activate(at=self._clock.now())
        await self._transaction.commit()
