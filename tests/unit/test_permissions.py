"""Authorization rules: identity's ensure_manages_users, ensure_outranks, ensure_may_assign, and
the shared require_role."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from uuid import uuid4

import pytest

from app.identity.application.permissions import (
    ensure_manages_users,
    ensure_may_assign,
    ensure_outranks,
)
from app.identity.domain.user import User
from app.identity.domain.value_objects import Email, PasswordHash, UserId, Username, UserStatus
from app.shared.application.actor import Actor, require_role
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


def allowed(check: Callable[[], None]) -> bool:
    """True when the rule passes silently, False when it refuses with AuthorizationError."""
    try:
        check()
    except AuthorizationError:
        return False
    return True


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
def test_require_role_requires_at_least_the_role(
    actor: Role, required: Role, expected: bool
) -> None:
    assert allowed(lambda: require_role(Actor(uuid4(), actor), required)) is expected


@pytest.mark.parametrize("actor", [C, S])
def test_managing_users_is_refused_below_admin(actor: Role) -> None:
    assert not allowed(lambda: ensure_manages_users(make_user(actor)))
    assert not allowed(lambda: ensure_manages_users(Actor(uuid4(), actor)))


@pytest.mark.parametrize("actor", [A, SA])
def test_managing_users_is_granted_to_admins(actor: Role) -> None:
    assert allowed(lambda: ensure_manages_users(make_user(actor)))
    assert allowed(lambda: ensure_manages_users(Actor(uuid4(), actor)))


@pytest.mark.parametrize(
    ("actor", "subject", "expected"),
    [
        (A, C, True),
        (A, S, True),
        (A, A, False),  # a peer
        (A, SA, False),
        (SA, A, True),
        (SA, SA, False),
        (S, C, True),
        (C, C, False),
    ],
)
def test_actors_act_only_on_strictly_lower_roles(
    actor: Role, subject: Role, expected: bool
) -> None:
    assert allowed(lambda: ensure_outranks(make_user(actor), make_user(subject))) is expected


def test_nobody_acts_on_themselves() -> None:
    admin = make_user(A)
    assert not allowed(lambda: ensure_outranks(admin, admin))


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
        (SA, C, SA, False),  # super_admin is never assigned, not even by a super admin
        (S, C, S, False),
        (S, C, C, True),
    ],
)
def test_only_roles_below_own_are_assigned_to_users_below_own(
    actor: Role, subject: Role, role: Role, expected: bool
) -> None:
    assert (
        allowed(lambda: ensure_may_assign(make_user(actor), make_user(subject), role)) is expected
    )


@pytest.mark.parametrize(
    "refused",
    [
        lambda: ensure_manages_users(make_user(S)),
        lambda: ensure_outranks(make_user(A), make_user(A)),
        lambda: ensure_may_assign(make_user(A), make_user(C), A),
    ],
    ids=["manages_users", "outranks", "may_assign"],
)
def test_every_identity_refusal_is_the_same_403(refused: Callable[[], None]) -> None:
    # The HTTP problem (403 forbidden, this detail) must not say which rule failed.
    with pytest.raises(AuthorizationError, match=r"^You are not allowed to do this\.$") as caught:
        refused()
    assert caught.value.code == "forbidden"


def test_require_role_names_the_role_it_needs() -> None:
    with pytest.raises(AuthorizationError, match=r"^This needs the admin role or higher\.$"):
        require_role(Actor(uuid4(), S), A)
