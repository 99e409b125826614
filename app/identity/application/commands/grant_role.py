from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from app.identity.application.current_user import CurrentUser
from app.identity.application.managed_user import load_managed_user
from app.identity.application.permissions import ensure_may_assign
from app.identity.application.ports.user_repository import UserRepository
from app.identity.domain.value_objects import UserId
from app.shared.application.ports import Clock, TransactionManager
from app.shared.domain.role import Role


@dataclass(frozen=True, slots=True, kw_only=True)
class GrantRoleRequest:
    user_id: UUID
    role: Role


class GrantRole:
    """Admins give a user a role strictly below their own; super_admin is never granted."""

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

    async def __call__(self, request: GrantRoleRequest) -> None:
        actor, subject = await load_managed_user(
            self._current_user, self._users, UserId(request.user_id)
        )
        ensure_may_assign(actor, subject, request.role)
        subject.assign_role(request.role, at=self._clock.now())
        await self._transaction.commit()
