from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from app.identity.application.current_user import CurrentUser
from app.identity.application.errors import RoleNotHeldError
from app.identity.application.managed_user import load_managed_user
from app.identity.application.permissions import ensure_may_assign
from app.identity.application.ports.user_repository import UserRepository
from app.identity.domain.value_objects import UserId
from app.shared.application.ports import Clock, TransactionManager
from app.shared.domain.role import Role


@dataclass(frozen=True, slots=True, kw_only=True)
class RevokeRoleRequest:
    user_id: UUID
    role: Role


class RevokeRole:
    """Takes a role (strictly below the actor's own) away; the user falls back to customer."""

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

    async def __call__(self, request: RevokeRoleRequest) -> None:
        actor, subject = await load_managed_user(
            self._current_user, self._users, UserId(request.user_id)
        )
        ensure_may_assign(actor, subject, request.role)
        if subject.role is not request.role or request.role is Role.CUSTOMER:
            raise RoleNotHeldError(
                f"The user does not hold the role {request.role.value!r}.",
                current_role=subject.role.value,
            )
        subject.assign_role(Role.CUSTOMER, at=self._clock.now())
        await self._transaction.commit()
