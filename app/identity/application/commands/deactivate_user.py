from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from app.identity.application.current_user import CurrentUser
from app.identity.application.managed_user import load_managed_user
from app.identity.application.ports.auth import SessionStore
from app.identity.application.ports.user_repository import UserRepository
from app.identity.domain.value_objects import UserId
from app.shared.application.ports import Clock, TransactionManager


@dataclass(frozen=True, slots=True, kw_only=True)
class DeactivateUserRequest:
    user_id: UUID


class DeactivateUser:
    """An inactive user cannot log in, and every session they had is revoked at once."""

    def __init__(
        self,
        current_user: CurrentUser,
        users: UserRepository,
        sessions: SessionStore,
        transaction: TransactionManager,
        clock: Clock,
    ) -> None:
        self._current_user = current_user
        self._users = users
        self._sessions = sessions
        self._transaction = transaction
        self._clock = clock

    async def __call__(self, request: DeactivateUserRequest) -> None:
        _, subject = await load_managed_user(
            self._current_user, self._users, UserId(request.user_id)
        )
        subject.deactivate(at=self._clock.now())
        await self._transaction.flush()
        # Revoke before commit: a failure leaves the user active rather than active sessions
        # of an inactive user.
        await self._sessions.revoke_all(subject.id_)
        await self._transaction.commit()
