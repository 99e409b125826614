"""Authorization rules: HasRole, CanManageSubordinate, CanAssignRole and authorize."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import pytest

from app.identity.application.permissions import (
    CAN_MANAGE_USERS,
    ActorContext,
    CanAssignRole,
    CanManageSubordinate,
    HasRole,
    RoleAssignmentContext,
    SubordinateContext,
    authorize,
)
from app.identity.domain.user import User
from app.identity.domain.value_objects import Email, PasswordHash, UserId, Username, UserStatus
from app.shared.application.errors import AuthorizationError
from app.shared.domain.role import Role

C, S, A, SA = Role.CUSTOMER, Role.STAFF, Role.ADMIN, Role.SUPER_ADMIN


def make_user(role: Role) -> User:
    at = datetime(2024, 1, 1, tzinfo=UTC)
    return User(
        id_=UserId(uuid4()),
        username=Username.parse(f"user-{role.value.replace('_', '-')}"),
        email=Email.parse(f"{role.value}@example.com"),
        password_hash=PasswordHash("hash"),
        role=role,
        status=UserStatus.ACTIVE,
        created_at=at,
        updated_at=at,
    )


@pytest.mark.parametrize(
    ("actor", "required", "expected"),
    [
        (C, C, True),
        (C, S, False),
        (S, A, False),
        (A, A, True),
        (SA, A, True),
        (A, SA, False),
        (SA, SA, True),
    ],
)
def test_has_role_requires_at_least_the_role(actor: Role, required: Role, expected: bool) -> None:
    assert HasRole(required).is_satisfied_by(ActorContext(make_user(actor))) is expected


@pytest.mark.parametrize("actor", [C, S])
def test_can_manage_users_is_refused_below_admin(actor: Role) -> None:
    assert not CAN_MANAGE_USERS.is_satisfied_by(ActorContext(make_user(actor)))


@pytest.mark.parametrize("actor", [A, SA])
def test_can_manage_users_is_granted_to_admins(actor: Role) -> None:
    assert CAN_MANAGE_USERS.is_satisfied_by(ActorContext(make_user(actor)))


@pytest.mark.parametrize(
    ("actor", "subject", "expected"),
    [
        (A, C, True),
        (A, S, True),
        (A, A, False),
        (A, SA, False),
        (SA, A, True),
        (SA, SA, False),
        (S, C, True),
        (C, C, False),
    ],
)
def test_can_manage_only_strictly_lower_roles(actor: Role, subject: Role, expected: bool) -> None:
    context = SubordinateContext(make_user(actor), make_user(subject))
    assert CanManageSubordinate().is_satisfied_by(context) is expected


def test_cannot_manage_oneself() -> None:
    admin = make_user(A)
    assert not CanManageSubordinate().is_satisfied_by(SubordinateContext(admin, admin))


@pytest.mark.parametrize(
    ("actor", "subject", "role", "expected"),
    [
        (A, C, S, True),
        (A, S, C, True),
        (A, C, A, False),  # a role equal to the actor's own
        (A, A, S, False),  # a peer subject
        (A, SA, S, False),
        (SA, C, A, True),
        (SA, A, S, True),
        (SA, C, SA, False),
        (S, C, S, False),
        (S, C, C, True),
    ],
)
def test_can_assign_only_roles_below_own_to_users_below_own(
    actor: Role, subject: Role, role: Role, expected: bool
) -> None:
    context = RoleAssignmentContext(make_user(actor), make_user(subject), role)
    assert CanAssignRole().is_satisfied_by(context) is expected


def test_authorize_raises_authorization_error_when_not_satisfied() -> None:
    with pytest.raises(AuthorizationError):
        authorize(HasRole(A), context=ActorContext(make_user(C)))


def test_authorize_passes_silently_when_satisfied() -> None:
    authorize(HasRole(A), context=ActorContext(make_user(A)))


def test_authorize_asks_the_permission_with_the_given_context() -> None:
    seen: list[object] = []

    class Recording:
        def is_satisfied_by(self, context: object) -> bool:
            seen.append(context)
            return False

    context = ActorContext(make_user(C))
    with pytest.raises(AuthorizationError):
        authorize(Recording(), context=context)
    assert seen == [context]
