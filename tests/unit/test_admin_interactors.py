"""User administration (grant/revoke role, deactivate/activate) and the admin queries."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from unittest.mock import Mock, create_autospec
from uuid import uuid4

import pytest

from app.identity.application.commands.activate_user import ActivateUser, ActivateUserRequest
from app.identity.application.commands.deactivate_user import (
    DeactivateUser,
    DeactivateUserRequest,
)
from app.identity.application.commands.grant_role import GrantRole, GrantRoleRequest
from app.identity.application.commands.revoke_role import RevokeRole, RevokeRoleRequest
from app.identity.application.current_actor import CurrentActor
from app.identity.application.current_user import CurrentUser
from app.identity.application.errors import RoleNotHeldError, SessionRevokedError
from app.identity.application.ports.auth import (
    AuthenticatedSession,
    IdentityProvider,
    SessionId,
    SessionStore,
)
from app.identity.application.ports.user_reader import (
    Caller,
    UserFilter,
    UserReader,
    UserSort,
    UserView,
)
from app.identity.application.ports.user_repository import UserRepository
from app.identity.application.queries.get_me import GetMe
from app.identity.application.queries.get_user import GetUser, GetUserRequest
from app.identity.application.queries.list_users import ListUsers, ListUsersRequest
from app.identity.domain.errors import UserNotFoundError
from app.identity.domain.user import User
from app.identity.domain.value_objects import Email, PasswordHash, UserId, Username, UserStatus
from app.shared.application.actor import Actor
from app.shared.application.errors import AuthorizationError
from app.shared.application.pagination import Page
from app.shared.application.ports import Clock, TransactionManager
from app.shared.domain.role import Role

CREATED = datetime(2024, 1, 1, tzinfo=UTC)
NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
SESSION_ID = SessionId("admin-session")


def make_user(
    username: str, role: Role = Role.CUSTOMER, status: UserStatus = UserStatus.ACTIVE
) -> User:
    return User(
        id_=UserId(uuid4()),
        username=Username.parse(username),
        email=Email.parse(f"{username}@example.com"),
        password_hash=PasswordHash("hash"),
        role=role,
        status=status,
        created_at=CREATED,
        updated_at=CREATED,
    )


class InMemoryUsers:
    """A dictionary behind an autospecced UserRepository, remembering ``for_update`` loads."""

    def __init__(self, *users: User) -> None:
        self.by_id = {user.id_: user for user in users}
        self.locked: list[UserId] = []
        self.port: Any = create_autospec(UserRepository, instance=True)
        self.port.get_by_id.side_effect = self._get_by_id

    async def _get_by_id(self, user_id: UserId, *, for_update: bool = False) -> User | None:
        if for_update:
            self.locked.append(user_id)
        return self.by_id.get(user_id)


class World:
    """An acting user (logged in) and a subject, wired to autospecced ports."""

    def __init__(self, actor: User, *others: User) -> None:
        self.actor = actor
        self.users = InMemoryUsers(actor, *others)
        self.identity: Any = create_autospec(IdentityProvider, instance=True)
        self.identity.current_session.return_value = AuthenticatedSession(actor.id_, SESSION_ID)
        self.sessions: Any = create_autospec(SessionStore, instance=True)
        self.sessions.revoke_all.return_value = 3
        self.transaction: Any = create_autospec(TransactionManager, instance=True)
        self.clock: Any = create_autospec(Clock, instance=True)
        self.clock.now.return_value = NOW
        self.reader: Any = create_autospec(UserReader, instance=True)
        self.calls = Mock()
        self.calls.attach_mock(self.sessions, "sessions")
        self.calls.attach_mock(self.transaction, "transaction")

    @property
    def current_user(self) -> CurrentUser:
        return CurrentUser(self.identity, self.users.port)

    @property
    def current_actor(self) -> CurrentActor:
        # The caller's row, as UserReader.caller() reads it, from the same users.
        async def caller(user_id: UserId) -> Caller | None:
            user = self.users.by_id.get(user_id)
            if user is None:
                return None
            return Caller(user.role, user.status, user.credentials_version)

        self.reader.caller.side_effect = caller
        return CurrentActor(self.identity, self.reader)

    def grant_role(self) -> GrantRole:
        return GrantRole(self.current_user, self.users.port, self.transaction, self.clock)

    def revoke_role(self) -> RevokeRole:
        return RevokeRole(self.current_user, self.users.port, self.transaction, self.clock)

    def deactivate(self) -> DeactivateUser:
        return DeactivateUser(
            self.current_user, self.users.port, self.sessions, self.transaction, self.clock
        )

    def activate(self) -> ActivateUser:
        return ActivateUser(self.current_user, self.users.port, self.transaction, self.clock)

    def order(self) -> list[str]:
        return [name for name, _, _ in self.calls.mock_calls]


# Each admin command, invoked on a subject, with a request that would succeed for an admin actor
# and a customer subject.
AdminCall = Callable[[World, User], Any]
ADMIN_COMMANDS: dict[str, AdminCall] = {
    "grant_role": lambda w, s: w.grant_role()(GrantRoleRequest(user_id=s.id_, role=Role.STAFF)),
    "revoke_role": lambda w, s: w.revoke_role()(RevokeRoleRequest(user_id=s.id_, role=Role.STAFF)),
    "deactivate": lambda w, s: w.deactivate()(DeactivateUserRequest(user_id=s.id_)),
    "activate": lambda w, s: w.activate()(ActivateUserRequest(user_id=s.id_)),
}


def assert_nothing_written(world: World) -> None:
    world.transaction.commit.assert_not_awaited()
    world.transaction.flush.assert_not_awaited()
    world.sessions.revoke_all.assert_not_awaited()


@pytest.mark.parametrize("command", ADMIN_COMMANDS)
@pytest.mark.parametrize("actor_role", [Role.CUSTOMER, Role.STAFF])
async def test_admin_command_by_non_admin_is_forbidden(command: str, actor_role: Role) -> None:
    subject = make_user("bob", Role.CUSTOMER)
    world = World(make_user("alice", actor_role), subject)

    with pytest.raises(AuthorizationError):
        await ADMIN_COMMANDS[command](world, subject)

    assert world.users.locked == []  # the subject is not even looked up
    assert subject.role is Role.CUSTOMER
    assert subject.status is UserStatus.ACTIVE
    assert_nothing_written(world)


@pytest.mark.parametrize("command", ADMIN_COMMANDS)
@pytest.mark.parametrize("subject_role", [Role.ADMIN, Role.SUPER_ADMIN])
async def test_admin_command_on_peer_or_superior_is_forbidden(
    command: str, subject_role: Role
) -> None:
    subject = make_user("bob", subject_role)
    world = World(make_user("alice", Role.ADMIN), subject)

    with pytest.raises(AuthorizationError):
        await ADMIN_COMMANDS[command](world, subject)

    assert subject.role is subject_role
    assert subject.status is UserStatus.ACTIVE
    assert subject.updated_at == CREATED
    assert_nothing_written(world)


@pytest.mark.parametrize("command", ADMIN_COMMANDS)
async def test_admin_command_on_oneself_is_forbidden(command: str) -> None:
    admin = make_user("alice", Role.ADMIN)
    world = World(admin)

    with pytest.raises(AuthorizationError):
        await ADMIN_COMMANDS[command](world, admin)

    assert admin.is_active
    assert_nothing_written(world)


@pytest.mark.parametrize("command", ADMIN_COMMANDS)
async def test_admin_command_on_missing_user_raises_user_not_found(command: str) -> None:
    world = World(make_user("alice", Role.ADMIN))
    ghost = make_user("ghost")  # never stored

    with pytest.raises(UserNotFoundError) as caught:
        await ADMIN_COMMANDS[command](world, ghost)

    assert caught.value.context == {"user_id": str(ghost.id_)}
    assert_nothing_written(world)


@pytest.mark.parametrize("command", ADMIN_COMMANDS)
async def test_admin_command_by_deactivated_admin_is_refused(command: str) -> None:
    subject = make_user("bob", Role.STAFF)
    world = World(make_user("alice", Role.ADMIN, UserStatus.INACTIVE), subject)

    with pytest.raises(SessionRevokedError):
        await ADMIN_COMMANDS[command](world, subject)

    assert_nothing_written(world)


# --- GrantRole ---------------------------------------------------------------------------------


async def test_admin_grants_staff_to_customer_and_commits() -> None:
    subject = make_user("bob")
    world = World(make_user("alice", Role.ADMIN), subject)

    await world.grant_role()(GrantRoleRequest(user_id=subject.id_, role=Role.STAFF))

    assert subject.role is Role.STAFF
    assert subject.updated_at == NOW
    assert world.users.locked == [subject.id_]  # loaded FOR UPDATE
    world.transaction.commit.assert_awaited_once()


@pytest.mark.parametrize("role", [Role.ADMIN, Role.SUPER_ADMIN])
async def test_admin_cannot_grant_own_role_or_above(role: Role) -> None:
    subject = make_user("bob")
    world = World(make_user("alice", Role.ADMIN), subject)

    with pytest.raises(AuthorizationError):
        await world.grant_role()(GrantRoleRequest(user_id=subject.id_, role=role))

    assert subject.role is Role.CUSTOMER
    world.transaction.commit.assert_not_awaited()


async def test_super_admin_grants_admin() -> None:
    subject = make_user("bob", Role.STAFF)
    world = World(make_user("root", Role.SUPER_ADMIN), subject)

    await world.grant_role()(GrantRoleRequest(user_id=subject.id_, role=Role.ADMIN))

    assert subject.role is Role.ADMIN
    world.transaction.commit.assert_awaited_once()


async def test_super_admin_cannot_grant_super_admin() -> None:
    subject = make_user("bob", Role.ADMIN)
    world = World(make_user("root", Role.SUPER_ADMIN), subject)

    with pytest.raises(AuthorizationError):
        await world.grant_role()(GrantRoleRequest(user_id=subject.id_, role=Role.SUPER_ADMIN))

    assert subject.role is Role.ADMIN
    world.transaction.commit.assert_not_awaited()


# --- RevokeRole --------------------------------------------------------------------------------


async def test_revoking_held_role_falls_back_to_customer() -> None:
    subject = make_user("bob", Role.STAFF)
    world = World(make_user("alice", Role.ADMIN), subject)

    await world.revoke_role()(RevokeRoleRequest(user_id=subject.id_, role=Role.STAFF))

    assert subject.role is Role.CUSTOMER
    assert subject.updated_at == NOW
    world.transaction.commit.assert_awaited_once()


async def test_revoking_a_role_not_held_is_a_conflict_naming_the_current_role() -> None:
    subject = make_user("bob", Role.CUSTOMER)
    world = World(make_user("root", Role.SUPER_ADMIN), subject)

    with pytest.raises(RoleNotHeldError) as caught:
        await world.revoke_role()(RevokeRoleRequest(user_id=subject.id_, role=Role.STAFF))

    assert caught.value.context == {"current_role": "customer"}
    assert subject.role is Role.CUSTOMER
    world.transaction.commit.assert_not_awaited()


async def test_revoking_customer_role_is_refused() -> None:
    subject = make_user("bob", Role.CUSTOMER)
    world = World(make_user("alice", Role.ADMIN), subject)

    with pytest.raises(RoleNotHeldError):
        await world.revoke_role()(RevokeRoleRequest(user_id=subject.id_, role=Role.CUSTOMER))

    world.transaction.commit.assert_not_awaited()


# --- DeactivateUser / ActivateUser -------------------------------------------------------------


async def test_deactivate_revokes_every_session_before_commit() -> None:
    subject = make_user("bob", Role.STAFF)
    world = World(make_user("alice", Role.ADMIN), subject)

    await world.deactivate()(DeactivateUserRequest(user_id=subject.id_))

    assert not subject.is_active
    assert subject.updated_at == NOW
    world.sessions.revoke_all.assert_awaited_once_with(subject.id_)
    assert world.order() == ["transaction.flush", "sessions.revoke_all", "transaction.commit"]


async def test_deactivate_does_not_commit_when_revocation_fails() -> None:
    subject = make_user("bob")
    world = World(make_user("alice", Role.ADMIN), subject)
    world.sessions.revoke_all.side_effect = ConnectionError("redis down")

    with pytest.raises(ConnectionError):
        await world.deactivate()(DeactivateUserRequest(user_id=subject.id_))

    world.transaction.commit.assert_not_awaited()


async def test_activate_reactivates_and_commits_without_touching_sessions() -> None:
    subject = make_user("bob", status=UserStatus.INACTIVE)
    world = World(make_user("alice", Role.ADMIN), subject)

    await world.activate()(ActivateUserRequest(user_id=subject.id_))

    assert subject.is_active
    assert subject.updated_at == NOW
    world.transaction.commit.assert_awaited_once()
    world.sessions.open.assert_not_awaited()
    world.sessions.revoke_all.assert_not_awaited()


# --- Queries -----------------------------------------------------------------------------------


def view_of(user: User) -> UserView:
    return UserView(
        id=str(user.id_),
        username=user.username.value,
        email=user.email.value,
        role=user.role.value,
        status=user.status.value,
        created_at=user.created_at,
        updated_at=user.updated_at,
    )


@pytest.mark.parametrize(
    ("requested", "passed"),
    [(-5, 1), (0, 1), (1, 1), (20, 20), (100, 100), (101, 100), (10_000, 100)],
)
async def test_list_users_clamps_limit_to_1_through_100(requested: int, passed: int) -> None:
    world = World(make_user("alice", Role.ADMIN))
    world.reader.list.return_value = Page(items=[], next_cursor=None)
    request = ListUsersRequest(
        filter_=UserFilter(role=Role.STAFF),
        sort=UserSort.USERNAME,
        limit=requested,
        cursor="abc",
    )

    page = await ListUsers(world.current_actor, world.reader)(request)

    assert page == {"items": [], "next_cursor": None}
    world.reader.list.assert_awaited_once_with(
        filter_=UserFilter(role=Role.STAFF), sort=UserSort.USERNAME, limit=passed, cursor="abc"
    )


@pytest.mark.parametrize("role", [Role.CUSTOMER, Role.STAFF])
async def test_list_users_is_forbidden_below_admin(role: Role) -> None:
    world = World(make_user("alice", role))

    with pytest.raises(AuthorizationError):
        await ListUsers(world.current_actor, world.reader)(ListUsersRequest())

    world.reader.list.assert_not_awaited()


async def test_get_user_returns_the_view_for_an_admin() -> None:
    subject = make_user("bob")
    world = World(make_user("alice", Role.ADMIN))
    world.reader.get.return_value = view_of(subject)

    view = await GetUser(world.current_actor, world.reader)(GetUserRequest(user_id=subject.id_))

    assert view["id"] == str(subject.id_)
    world.reader.get.assert_awaited_once_with(subject.id_)


async def test_get_user_missing_raises_user_not_found() -> None:
    world = World(make_user("alice", Role.ADMIN))
    world.reader.get.return_value = None
    missing = uuid4()

    with pytest.raises(UserNotFoundError) as caught:
        await GetUser(world.current_actor, world.reader)(GetUserRequest(user_id=missing))

    assert caught.value.context == {"user_id": str(missing)}


async def test_get_user_is_forbidden_for_customers() -> None:
    world = World(make_user("alice"))

    with pytest.raises(AuthorizationError):
        await GetUser(world.current_actor, world.reader)(GetUserRequest(user_id=uuid4()))

    world.reader.get.assert_not_awaited()


async def test_get_me_returns_own_view() -> None:
    me = make_user("alice")
    world = World(me)
    world.reader.get.return_value = view_of(me)

    assert (await GetMe(world.current_actor, world.reader)())["username"] == "alice"
    world.reader.get.assert_awaited_once_with(me.id_)


async def test_the_session_of_a_user_deleted_since_speaks_for_no_one() -> None:
    me = make_user("alice")
    world = World(me)
    del world.users.by_id[me.id_]

    with pytest.raises(SessionRevokedError):
        await world.current_actor.current()
    with pytest.raises(SessionRevokedError):
        await world.current_user.get()


async def test_an_anonymous_caller_is_no_actor_and_no_session_is_read() -> None:
    world = World(make_user("alice"))
    world.identity.has_credentials.return_value = False

    assert await world.current_actor.optional() is None
    world.identity.current_session.assert_not_awaited()
    world.reader.caller.assert_not_awaited()


async def test_a_caller_with_credentials_is_the_optional_actor_with_its_role() -> None:
    me = make_user("alice", Role.STAFF)
    world = World(me)
    world.identity.has_credentials.return_value = True

    assert await world.current_actor.optional() == Actor(user_id=me.id_, role=Role.STAFF)
    world.reader.caller.assert_awaited_once_with(me.id_)


@pytest.mark.parametrize("status", [UserStatus.INACTIVE, None])
async def test_get_me_for_inactive_or_deleted_user_is_session_revoked(
    status: UserStatus | None,
) -> None:
    me = make_user("alice", status=status or UserStatus.ACTIVE)
    world = World(me)
    world.reader.get.return_value = None if status is None else view_of(me)

    with pytest.raises(SessionRevokedError):
        await GetMe(world.current_actor, world.reader)()
