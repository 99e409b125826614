"""Authorization rules as small permission objects over typed contexts.

Routers never decide who may do what: interactors build a context and ask a permission.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, TypeVar

from app.identity.domain.user import User
from app.shared.application.errors import AuthorizationError
from app.shared.domain.role import Role

C_contra = TypeVar("C_contra", contravariant=True)


class Permission(Protocol[C_contra]):
    def is_satisfied_by(self, context: C_contra) -> bool: ...


class RoleHolder(Protocol):
    """Whoever acts, as far as a role check goes: the User entity or the shared Actor."""

    @property
    def role(self) -> Role: ...


@dataclass(frozen=True, slots=True)
class ActorContext:
    actor: RoleHolder


@dataclass(frozen=True, slots=True)
class SubordinateContext:
    actor: User
    subject: User


@dataclass(frozen=True, slots=True)
class RoleAssignmentContext:
    actor: User
    subject: User
    role: Role


class HasRole:
    """The actor holds at least ``role``."""

    def __init__(self, role: Role) -> None:
        self._role = role

    def is_satisfied_by(self, context: ActorContext) -> bool:
        return context.actor.role.includes(self._role)


class CanManageSubordinate:
    """Actors act on users strictly below their own role (so never on themselves or peers)."""

    def is_satisfied_by(self, context: SubordinateContext) -> bool:
        return context.actor.role.outranks(context.subject.role)


class CanAssignRole:
    """Only roles strictly below the actor's own may be given or taken away."""

    def is_satisfied_by(self, context: RoleAssignmentContext) -> bool:
        return context.actor.role.outranks(context.subject.role) and context.actor.role.outranks(
            context.role
        )


CAN_MANAGE_USERS = HasRole(Role.ADMIN)


def authorize(permission: Permission[C_contra], *, context: C_contra) -> None:
    if not permission.is_satisfied_by(context):
        raise AuthorizationError("You are not allowed to do this.")
