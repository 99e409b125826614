"""The role hierarchy and the User entity's own transitions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from uuid import uuid4

import pytest

from app.identity.domain.errors import RoleNotAssignableError
from app.identity.domain.user import User
from app.identity.domain.value_objects import (
    Email,
    PasswordHash,
    UserId,
    Username,
    UserStatus,
)
from app.shared.domain.role import Role

CREATED = datetime(2024, 1, 1, tzinfo=UTC)
LATER = CREATED + timedelta(hours=1)
ORDER = [Role.CUSTOMER, Role.STAFF, Role.ADMIN, Role.SUPER_ADMIN]


def make_user(
    *,
    role: Role = Role.CUSTOMER,
    status: UserStatus = UserStatus.ACTIVE,
    user_id: UserId | None = None,
    username: str = "alice",
) -> User:
    return User(
        id_=user_id or UserId(uuid4()),
        username=Username.parse(username),
        email=Email.parse(f"{username}@example.com"),
        password_hash=PasswordHash("hash"),
        role=role,
        status=status,
        created_at=CREATED,
        updated_at=CREATED,
    )


# --- Role --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("lower", "higher"), list(pairwise(ORDER)))
def test_higher_role_outranks_the_one_below(lower: Role, higher: Role) -> None:
    assert higher.outranks(lower)
    assert not lower.outranks(higher)


@pytest.mark.parametrize("role", ORDER)
def test_role_does_not_outrank_itself(role: Role) -> None:
    assert not role.outranks(role)


@pytest.mark.parametrize("role", ORDER)
def test_role_includes_itself(role: Role) -> None:
    assert role.includes(role)


def test_super_admin_outranks_and_includes_every_other_role() -> None:
    for role in ORDER[:-1]:
        assert Role.SUPER_ADMIN.outranks(role)
        assert Role.SUPER_ADMIN.includes(role)


def test_customer_includes_no_higher_role() -> None:
    for role in ORDER[1:]:
        assert not Role.CUSTOMER.includes(role)


def test_outranks_is_transitive_across_the_hierarchy() -> None:
    for i, lower in enumerate(ORDER):
        for higher in ORDER[i + 1 :]:
            assert higher.outranks(lower)
            assert higher.includes(lower)
            assert not lower.includes(higher)


@pytest.mark.parametrize("role", [Role.CUSTOMER, Role.STAFF, Role.ADMIN])
def test_ordinary_roles_are_assignable(role: Role) -> None:
    assert role.is_assignable


def test_super_admin_is_not_assignable() -> None:
    assert not Role.SUPER_ADMIN.is_assignable


def test_role_values_are_stable_wire_names() -> None:
    assert [role.value for role in Role] == ["customer", "staff", "admin", "super_admin"]


# --- User --------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.CUSTOMER, Role.STAFF, Role.ADMIN])
def test_assign_role_sets_role_and_touches_updated_at(role: Role) -> None:
    user = make_user(role=Role.CUSTOMER if role is not Role.CUSTOMER else Role.STAFF)
    user.assign_role(role, at=LATER)
    assert user.role is role
    assert user.updated_at == LATER
    assert user.created_at == CREATED


def test_assign_role_refuses_super_admin_and_changes_nothing() -> None:
    user = make_user(role=Role.ADMIN)
    with pytest.raises(RoleNotAssignableError):
        user.assign_role(Role.SUPER_ADMIN, at=LATER)
    assert user.role is Role.ADMIN
    assert user.updated_at == CREATED


def test_deactivate_makes_user_inactive() -> None:
    user = make_user()
    assert user.is_active
    user.deactivate(at=LATER)
    assert not user.is_active
    assert user.status is UserStatus.INACTIVE
    assert user.updated_at == LATER


def test_activate_makes_inactive_user_active_again() -> None:
    user = make_user(status=UserStatus.INACTIVE)
    assert not user.is_active
    user.activate(at=LATER)
    assert user.is_active
    assert user.status is UserStatus.ACTIVE
    assert user.updated_at == LATER


def test_replace_password_hash_touches_updated_at() -> None:
    user = make_user()
    user.replace_password_hash(PasswordHash("new"), at=LATER)
    assert user.password_hash == PasswordHash("new")
    assert user.updated_at == LATER


def test_users_with_the_same_id_are_equal_whatever_their_state() -> None:
    user_id = UserId(uuid4())
    first = make_user(user_id=user_id, username="alice", role=Role.CUSTOMER)
    second = make_user(user_id=user_id, username="bob", role=Role.ADMIN)
    assert first == second
    assert hash(first) == hash(second)
    assert len({first, second}) == 1


def test_users_with_different_ids_are_not_equal_even_with_identical_state() -> None:
    assert make_user(username="alice") != make_user(username="alice")


def test_user_is_not_equal_to_a_non_user() -> None:
    user = make_user()
    assert user != user.id_
    assert user != "alice"


def test_a_user_as_loaded_has_no_events_and_none_are_taken_twice() -> None:
    # Loaded by the ORM (no __init__ of the root), or built with no change: nothing to hand on.
    user = make_user()

    assert user.pull_events() == []
    user.record_sign_up_with_this_email(at=CREATED)
    assert len(user.pull_events()) == 1
    assert user.pull_events() == []
