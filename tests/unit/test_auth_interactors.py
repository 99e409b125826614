"""SignUp, LogIn, RefreshSession and ChangePassword against autospecced ports."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from unittest.mock import AsyncMock, Mock, call, create_autospec
from uuid import UUID, uuid4

import pytest

from app.identity.application.commands.change_password import (
    ChangePassword,
    ChangePasswordRequest,
)
from app.identity.application.commands.create_super_admin import (
    CreateSuperAdmin,
    CreateSuperAdminRequest,
)
from app.identity.application.commands.log_in import LogIn, LogInRequest
from app.identity.application.commands.log_out import LogOut
from app.identity.application.commands.log_out_everywhere import LogOutEverywhere
from app.identity.application.commands.refresh_session import (
    RefreshSession,
    RefreshSessionRequest,
)
from app.identity.application.commands.sign_up import SignUp, SignUpRequest
from app.identity.application.current_user import CurrentUser
from app.identity.application.errors import (
    InvalidCredentialsError,
    SessionRevokedError,
    WrongPasswordError,
)
from app.identity.application.ports.auth import (
    AccessToken,
    AccessTokenCodec,
    AuthenticatedSession,
    IdentityProvider,
    OpenedSession,
    RotatedSession,
    SessionId,
    SessionStore,
)
from app.identity.application.ports.login_throttle import LoginThrottle
from app.identity.application.ports.user_repository import UserRepository
from app.identity.domain.errors import (
    EmailTakenError,
    InvalidEmailError,
    InvalidUsernameError,
    WeakPasswordError,
)
from app.identity.domain.events import SignUpWithTakenEmail
from app.identity.domain.ports import PasswordCheck, PasswordHasher, UserIdGenerator
from app.identity.domain.user import User
from app.identity.domain.user_service import UserService
from app.identity.domain.value_objects import (
    Email,
    PasswordHash,
    RawPassword,
    UserId,
    Username,
    UserStatus,
)
from app.shared.application.errors import RateLimitedError
from app.shared.application.ports import Clock, TransactionManager
from app.shared.application.rate_limit import RateLimiter, RateLimitRule
from app.shared.domain.role import Role

CREATED = datetime(2024, 1, 1, tzinfo=UTC)
NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
PASSWORD = "correct horse battery staple"
SESSION_ID = SessionId("session-1")


def make_user(
    *,
    username: str = "alice",
    role: Role = Role.CUSTOMER,
    status: UserStatus = UserStatus.ACTIVE,
    password_hash: str = "stored-hash",  # noqa: S107 - a fake hash, not a secret
) -> User:
    return User(
        id_=UserId(uuid4()),
        username=Username.parse(username),
        email=Email.parse(f"{username}@example.com"),
        password_hash=PasswordHash(password_hash),
        role=role,
        status=status,
        created_at=CREATED,
        updated_at=CREATED,
    )


@dataclass
class Ports:
    """Every port of the identity interactors, autospecced, plus a log of calls in order."""

    users: Any = field(default_factory=lambda: create_autospec(UserRepository, instance=True))
    hasher: Any = field(default_factory=lambda: create_autospec(PasswordHasher, instance=True))
    sessions: Any = field(default_factory=lambda: create_autospec(SessionStore, instance=True))
    tokens: Any = field(default_factory=lambda: create_autospec(AccessTokenCodec, instance=True))
    identity: Any = field(default_factory=lambda: create_autospec(IdentityProvider, instance=True))
    transaction: Any = field(
        default_factory=lambda: create_autospec(TransactionManager, instance=True)
    )
    clock: Any = field(default_factory=lambda: create_autospec(Clock, instance=True))
    new_user_id: Any = field(default_factory=lambda: create_autospec(UserIdGenerator))
    throttle: Any = field(default_factory=lambda: create_autospec(LoginThrottle, instance=True))
    limiter: Any = field(default_factory=lambda: create_autospec(RateLimiter, instance=True))
    calls: Mock = field(default_factory=Mock)

    def __post_init__(self) -> None:
        self.clock.now.return_value = NOW
        self.hasher.hash.return_value = PasswordHash("new-hash")
        self.hasher.verify.return_value = PasswordCheck(valid=True, upgraded_hash=None)
        self.sessions.open.return_value = OpenedSession(SESSION_ID, "refresh-1")
        self.sessions.revoke_all.return_value = 2
        self.tokens.issue.return_value = AccessToken("access-1", 900, "csrf-1")
        for name in ("users", "hasher", "sessions", "tokens", "transaction", "throttle", "limiter"):
            self.calls.attach_mock(getattr(self, name), name)

    @property
    def user_service(self) -> UserService:
        return UserService(self.hasher, self.new_user_id)

    def order(self) -> list[str]:
        """Names of the port calls made so far, e.g. ``["transaction.flush", ...]``."""
        return [name for name, _, _ in self.calls.mock_calls if "." in name]

    def log_in_as(self, user: User) -> None:
        self.identity.current_session.return_value = AuthenticatedSession(user.id_, SESSION_ID)
        self.users.get_by_id.return_value = user


@pytest.fixture
def ports() -> Ports:
    return Ports()


# --- SignUp ------------------------------------------------------------------------------------


def sign_up(ports: Ports) -> SignUp:
    return SignUp(ports.users, ports.user_service, ports.transaction, ports.clock)


async def test_sign_up_hashes_adds_commits_and_returns_the_new_id(ports: Ports) -> None:
    new_id = UserId(UUID("12345678-1234-5678-1234-567812345678"))
    ports.new_user_id.return_value = new_id
    ports.users.get_by_email.return_value = None

    response = await sign_up(ports)(
        SignUpRequest(username=" Alice ", email="Alice@Example.com", password=PASSWORD)
    )

    assert response == {"id": str(new_id)}
    ports.hasher.hash.assert_awaited_once_with(RawPassword(PASSWORD))
    ports.users.add.assert_called_once()
    added: User = ports.users.add.call_args.args[0]
    assert added.id_ == new_id
    assert added.username == Username("alice")
    assert added.email == Email("alice@example.com")
    assert added.password_hash == PasswordHash("new-hash")
    assert added.role is Role.CUSTOMER
    assert added.status is UserStatus.ACTIVE
    assert added.created_at == NOW
    assert added.updated_at == NOW
    ports.transaction.commit.assert_awaited_once()
    assert ports.order() == [
        "hasher.hash",
        "users.get_by_email",
        "users.add",
        "transaction.commit",
    ]


async def test_sign_up_racing_another_for_the_email_gets_the_same_answer(ports: Ports) -> None:
    # The look-up found no owner; a concurrent sign-up registered the address before the commit.
    new_id = UserId(UUID("12345678-1234-5678-1234-567812345678"))
    ports.new_user_id.return_value = new_id
    ports.users.get_by_email.return_value = None
    ports.transaction.commit.side_effect = EmailTakenError("Taken.")

    response = await sign_up(ports)(
        SignUpRequest(username="bobby", email="ALICE@example.com", password=PASSWORD)
    )

    assert response == {"id": str(new_id)}
    ports.users.get_by_email.assert_awaited_once_with(Email("alice@example.com"))


async def test_sign_up_with_a_taken_email_opens_nothing_and_tells_the_owner(ports: Ports) -> None:
    # Security review, finding 6: the same answer after the same work, and an event instead.
    owner = make_user()
    ports.users.get_by_email.return_value = owner
    ports.new_user_id.return_value = UserId(UUID("12345678-1234-5678-1234-567812345678"))

    response = await sign_up(ports)(
        SignUpRequest(username="bobby", email="ALICE@example.com", password=PASSWORD)
    )

    assert response == {"id": "12345678-1234-5678-1234-567812345678"}
    ports.hasher.hash.assert_awaited_once()  # the work of a real sign-up, so no timing tell
    ports.users.add.assert_not_called()
    ports.transaction.commit.assert_awaited_once()
    [event] = owner.pull_events()
    assert isinstance(event, SignUpWithTakenEmail)
    assert (event.aggregate_id, event.occurred_at) == (owner.id_, NOW)


@pytest.mark.parametrize(
    "password", ["short", " " * 12, "alice-rocks-1", "x" * 129, "ALICE@EXAMPLE.COM!"]
)
async def test_sign_up_weak_password_never_reaches_the_hasher(ports: Ports, password: str) -> None:
    with pytest.raises(WeakPasswordError):
        await sign_up(ports)(
            SignUpRequest(username="alice", email="alice@example.com", password=password)
        )
    ports.hasher.hash.assert_not_awaited()
    ports.users.add.assert_not_called()
    ports.transaction.commit.assert_not_awaited()


@pytest.mark.parametrize(
    ("username", "email", "error"),
    [
        ("a", "alice@example.com", InvalidUsernameError),
        ("alice", "not-an-email", InvalidEmailError),
    ],
)
async def test_sign_up_invalid_identity_adds_nothing(
    ports: Ports, username: str, email: str, error: type[Exception]
) -> None:
    with pytest.raises(error):
        await sign_up(ports)(SignUpRequest(username=username, email=email, password=PASSWORD))
    ports.hasher.hash.assert_not_awaited()
    ports.users.add.assert_not_called()
    ports.transaction.commit.assert_not_awaited()


# --- LogIn -------------------------------------------------------------------------------------


def log_in(ports: Ports) -> LogIn:
    return LogIn(
        ports.users,
        ports.user_service,
        ports.hasher,
        ports.sessions,
        ports.tokens,
        ports.transaction,
        ports.clock,
        ports.throttle,
    )


def assert_no_session(ports: Ports) -> None:
    ports.sessions.open.assert_not_awaited()
    ports.tokens.issue.assert_not_called()


async def test_log_in_issues_tokens_for_valid_credentials(ports: Ports) -> None:
    user = make_user()
    ports.users.get_by_username.return_value = user

    pair = await log_in(ports)(LogInRequest(login="Alice", password=PASSWORD))

    ports.users.get_by_username.assert_awaited_once_with(Username("alice"))
    ports.hasher.verify.assert_awaited_once_with(RawPassword(PASSWORD), user.password_hash)
    ports.sessions.open.assert_awaited_once_with(user.id_, credentials_version=1)
    ports.tokens.issue.assert_called_once_with(user.id_, SESSION_ID)
    assert pair == {
        "access_token": "access-1",
        "refresh_token": "refresh-1",
        "token_type": "bearer",
        "expires_in": 900,
        "csrf_token": "csrf-1",
    }
    ports.transaction.commit.assert_not_awaited()  # nothing to store without a rehash
    ports.hasher.verify_dummy.assert_not_awaited()


async def test_log_in_with_an_email_looks_the_user_up_by_email(ports: Ports) -> None:
    user = make_user()
    ports.users.get_by_email.return_value = user

    await log_in(ports)(LogInRequest(login=" ALICE@example.com ", password=PASSWORD))

    ports.users.get_by_email.assert_awaited_once_with(Email("alice@example.com"))
    ports.users.get_by_username.assert_not_awaited()
    ports.sessions.open.assert_awaited_once_with(user.id_, credentials_version=1)


@pytest.mark.parametrize("login", ["ghost", "ghost@example.com"])
async def test_log_in_unknown_user_spends_a_dummy_verify_and_fails(
    ports: Ports, login: str
) -> None:
    ports.users.get_by_username.return_value = None
    ports.users.get_by_email.return_value = None

    with pytest.raises(InvalidCredentialsError):
        await log_in(ports)(LogInRequest(login=login, password=PASSWORD))

    ports.hasher.verify_dummy.assert_awaited_once_with(RawPassword(PASSWORD))
    ports.hasher.verify.assert_not_awaited()
    assert_no_session(ports)


@pytest.mark.parametrize("login", ["x", "bad name!", "@", "a@b", "no@such@domain"])
async def test_log_in_with_malformed_login_fails_like_an_unknown_user(
    ports: Ports, login: str
) -> None:
    with pytest.raises(InvalidCredentialsError):
        await log_in(ports)(LogInRequest(login=login, password=PASSWORD))
    ports.hasher.verify_dummy.assert_awaited_once()
    assert_no_session(ports)


@pytest.mark.parametrize("password", ["", "x" * 1025])
async def test_log_in_with_impossible_password_fails_with_invalid_credentials(
    ports: Ports, password: str
) -> None:
    ports.users.get_by_username.return_value = make_user()
    with pytest.raises(InvalidCredentialsError):
        await log_in(ports)(LogInRequest(login="alice", password=password))
    assert_no_session(ports)


async def test_log_in_with_wrong_password_fails(ports: Ports) -> None:
    ports.users.get_by_username.return_value = make_user()
    ports.hasher.verify.return_value = PasswordCheck(valid=False, upgraded_hash=None)

    with pytest.raises(InvalidCredentialsError):
        await log_in(ports)(LogInRequest(login="alice", password="wrong password"))

    assert_no_session(ports)
    ports.transaction.commit.assert_not_awaited()


async def test_log_in_inactive_user_with_right_password_fails(ports: Ports) -> None:
    ports.users.get_by_username.return_value = make_user(status=UserStatus.INACTIVE)

    with pytest.raises(InvalidCredentialsError):
        await log_in(ports)(LogInRequest(login="alice", password=PASSWORD))

    assert_no_session(ports)
    ports.transaction.commit.assert_not_awaited()


async def test_log_in_failures_are_indistinguishable(ports: Ports) -> None:
    """Unknown user, wrong password and inactive user: same error class, code and detail."""
    errors: list[InvalidCredentialsError] = []
    scenarios = [
        (None, PasswordCheck(valid=True, upgraded_hash=None)),
        (make_user(), PasswordCheck(valid=False, upgraded_hash=None)),
        (make_user(status=UserStatus.INACTIVE), PasswordCheck(valid=True, upgraded_hash=None)),
    ]
    for user, check in scenarios:
        ports.users.get_by_username.return_value = user
        ports.hasher.verify.return_value = check
        with pytest.raises(InvalidCredentialsError) as caught:
            await log_in(ports)(LogInRequest(login="alice", password=PASSWORD))
        errors.append(caught.value)
    assert {type(error) for error in errors} == {InvalidCredentialsError}
    assert len({(error.code, error.detail, tuple(error.context)) for error in errors}) == 1


async def test_log_in_counts_guesses_per_account_not_per_login_text(ports: Ports) -> None:
    # Security review, finding 4: "alice" and "alice@example.com" counted apart, as typed.
    user = make_user()
    ports.users.get_by_username.return_value = user
    ports.users.get_by_email.return_value = user
    ports.hasher.verify.return_value = PasswordCheck(valid=False, upgraded_hash=None)
    for login in ("alice", "ALICE@example.com"):
        with pytest.raises(InvalidCredentialsError):
            await log_in(ports)(
                LogInRequest(login=login, password="wrong password", client_address="192.0.2.1")
            )
    assert ports.throttle.check.await_args_list == [call(user.id_, "192.0.2.1")] * 2
    assert ports.throttle.failed.await_args_list == [call(user.id_)] * 2
    ports.throttle.succeeded.assert_not_awaited()


async def test_log_in_asks_the_throttle_before_hashing_and_clears_it_on_success(
    ports: Ports,
) -> None:
    user = make_user()
    ports.users.get_by_username.return_value = user
    await log_in(ports)(
        LogInRequest(login="alice", password=PASSWORD, client_address="2001:db8::1")
    )
    assert ports.order()[:3] == ["users.get_by_username", "throttle.check", "hasher.verify"]
    ports.throttle.succeeded.assert_awaited_once_with(user.id_, "2001:db8::1")
    ports.throttle.failed.assert_not_awaited()


async def test_log_in_refused_by_the_throttle_spends_no_hash(ports: Ports) -> None:
    ports.users.get_by_username.return_value = make_user()
    ports.throttle.check.side_effect = RateLimitedError("Wait.", retry_after=4, limit=10)
    with pytest.raises(RateLimitedError):
        await log_in(ports)(LogInRequest(login="alice", password=PASSWORD))
    ports.hasher.verify.assert_not_awaited()
    assert_no_session(ports)


async def test_log_in_for_an_unknown_account_counts_nothing_per_account(ports: Ports) -> None:
    ports.users.get_by_username.return_value = None
    with pytest.raises(InvalidCredentialsError):
        await log_in(ports)(LogInRequest(login="nobody", password=PASSWORD))
    ports.throttle.check.assert_not_awaited()
    ports.throttle.failed.assert_not_awaited()


async def test_a_right_password_for_an_inactive_account_is_no_failure(ports: Ports) -> None:
    # The owner of a deactivated account is not a guesser; the answer stays the same.
    ports.users.get_by_username.return_value = make_user(status=UserStatus.INACTIVE)
    with pytest.raises(InvalidCredentialsError):
        await log_in(ports)(LogInRequest(login="alice", password=PASSWORD))
    ports.throttle.failed.assert_not_awaited()
    ports.throttle.succeeded.assert_not_awaited()


async def test_log_in_rehashes_an_outdated_hash_and_commits(ports: Ports) -> None:
    user = make_user(password_hash="old-hash")
    ports.users.get_by_username.return_value = user
    ports.hasher.verify.return_value = PasswordCheck(
        valid=True, upgraded_hash=PasswordHash("upgraded-hash")
    )

    await log_in(ports)(LogInRequest(login="alice", password=PASSWORD))

    assert user.password_hash == PasswordHash("upgraded-hash")
    assert user.updated_at == NOW
    ports.transaction.commit.assert_awaited_once()
    order = ports.order()
    assert order.index("transaction.commit") < order.index("sessions.open")


async def test_log_in_does_not_rehash_when_the_password_is_wrong(ports: Ports) -> None:
    user = make_user(password_hash="old-hash")
    ports.users.get_by_username.return_value = user
    ports.hasher.verify.return_value = PasswordCheck(
        valid=False, upgraded_hash=PasswordHash("upgraded-hash")
    )

    with pytest.raises(InvalidCredentialsError):
        await log_in(ports)(LogInRequest(login="alice", password="wrong password"))

    assert user.password_hash == PasswordHash("old-hash")
    ports.transaction.commit.assert_not_awaited()


# --- RefreshSession ----------------------------------------------------------------------------


def refresh(ports: Ports) -> RefreshSession:
    return RefreshSession(ports.sessions, ports.tokens, ports.users)


async def test_refresh_issues_new_access_token_with_rotated_refresh_token(ports: Ports) -> None:
    user = make_user()
    ports.sessions.rotate.return_value = RotatedSession(SESSION_ID, user.id_, "refresh-2", 1)
    ports.users.get_by_id.return_value = user

    pair = await refresh(ports)(RefreshSessionRequest(refresh_token="refresh-1"))

    ports.sessions.rotate.assert_awaited_once_with("refresh-1")
    ports.tokens.issue.assert_called_once_with(user.id_, SESSION_ID)
    ports.users.get_by_id.assert_awaited_once_with(user.id_)
    assert pair == {
        "access_token": "access-1",
        "refresh_token": "refresh-2",
        "token_type": "bearer",
        "expires_in": 900,
        "csrf_token": "csrf-1",
    }
    ports.sessions.revoke.assert_not_awaited()


@pytest.mark.parametrize("user", [make_user(status=UserStatus.INACTIVE), None])
async def test_refresh_for_inactive_or_deleted_user_revokes_the_session(
    ports: Ports, user: User | None
) -> None:
    user_id = user.id_ if user else UserId(uuid4())
    ports.sessions.rotate.return_value = RotatedSession(SESSION_ID, user_id, "refresh-2", 1)
    ports.users.get_by_id.return_value = user

    with pytest.raises(SessionRevokedError):
        await refresh(ports)(RefreshSessionRequest(refresh_token="refresh-1"))

    ports.sessions.revoke.assert_awaited_once_with(SESSION_ID)
    ports.tokens.issue.assert_not_called()


# --- LogOut, LogOutEverywhere -------------------------------------------------------------------


async def test_log_out_revokes_the_callers_current_session_only(ports: Ports) -> None:
    user = make_user()
    ports.log_in_as(user)

    await LogOut(ports.identity, ports.sessions)()

    ports.sessions.revoke.assert_awaited_once_with(SESSION_ID)
    ports.sessions.revoke_all.assert_not_awaited()


async def test_log_out_everywhere_revokes_every_session_of_the_caller_and_counts_them(
    ports: Ports,
) -> None:
    user = make_user()
    ports.log_in_as(user)
    ports.sessions.revoke_all.return_value = 3

    response = await LogOutEverywhere(ports.identity, ports.sessions)()

    assert response == {"revoked_sessions": 3}
    # No session kept: the caller's own ends too, on this device as on the others.
    ports.sessions.revoke_all.assert_awaited_once_with(user.id_)
    ports.sessions.revoke.assert_not_awaited()


# --- ChangePassword ----------------------------------------------------------------------------


def change_password(ports: Ports) -> ChangePassword:
    return ChangePassword(
        CurrentUser(ports.identity, ports.users),
        ports.user_service,
        ports.sessions,
        ports.transaction,
        ports.clock,
        ports.limiter,
    )


async def test_change_password_with_wrong_current_password_changes_nothing(ports: Ports) -> None:
    user = make_user(password_hash="old-hash")
    ports.log_in_as(user)
    ports.hasher.verify.return_value = PasswordCheck(valid=False, upgraded_hash=None)

    with pytest.raises(WrongPasswordError):
        await change_password(ports)(
            ChangePasswordRequest(current_password="nope", new_password="a brand new passphrase")
        )

    ports.limiter.hit.assert_awaited_with(RateLimitRule.WRONG_PASSWORD_PER_USER, str(user.id_))
    assert user.password_hash == PasswordHash("old-hash")
    ports.hasher.hash.assert_not_awaited()
    ports.sessions.revoke_all.assert_not_awaited()
    ports.transaction.commit.assert_not_awaited()


async def test_change_password_is_limited_per_user_before_any_hashing(ports: Ports) -> None:
    # Security review, finding 3: 314 guesses in 10 s with one access token, each a hash.
    user = make_user(password_hash="old-hash")
    ports.log_in_as(user)
    ports.limiter.hit.side_effect = RateLimitedError("Slow down.", retry_after=60, limit=10)
    with pytest.raises(RateLimitedError):
        await change_password(ports)(
            ChangePasswordRequest(current_password=PASSWORD, new_password="a brand new passphrase")
        )
    ports.limiter.hit.assert_awaited_once_with(
        RateLimitRule.CHANGE_PASSWORD_PER_USER, str(user.id_)
    )
    ports.hasher.verify.assert_not_awaited()


async def test_one_wrong_current_password_too_many_ends_the_session(ports: Ports) -> None:
    user = make_user(password_hash="old-hash")
    ports.log_in_as(user)
    ports.hasher.verify.return_value = PasswordCheck(valid=False, upgraded_hash=None)

    async def hit(rule: RateLimitRule, key: str) -> None:
        if rule is RateLimitRule.WRONG_PASSWORD_PER_USER:
            raise RateLimitedError("Too many.", retry_after=60, limit=5)

    ports.limiter.hit.side_effect = hit
    with pytest.raises(SessionRevokedError):
        await change_password(ports)(
            ChangePasswordRequest(
                current_password="wrong password", new_password="a brand new passphrase"
            )
        )
    ports.sessions.revoke.assert_awaited_once_with(SESSION_ID)
    ports.transaction.commit.assert_not_awaited()


async def test_change_password_revokes_other_sessions_before_commit(ports: Ports) -> None:
    user = make_user(password_hash="old-hash")
    ports.log_in_as(user)

    await change_password(ports)(
        ChangePasswordRequest(current_password=PASSWORD, new_password="a brand new passphrase")
    )

    ports.hasher.verify.assert_awaited_once_with(RawPassword(PASSWORD), PasswordHash("old-hash"))
    ports.hasher.hash.assert_awaited_once_with(RawPassword("a brand new passphrase"))
    assert user.password_hash == PasswordHash("new-hash")
    assert user.updated_at == NOW
    ports.sessions.revoke_all.assert_awaited_once_with(user.id_, keep=SESSION_ID)
    ports.transaction.commit.assert_awaited_once()
    order = [name for name in ports.order() if name.split(".")[0] in {"sessions", "transaction"}]
    assert order == [
        "transaction.flush",
        "sessions.revoke_all",
        "transaction.commit",
        "sessions.renew",  # the caller's session goes on under the new credentials
    ]
    assert user.credentials_version == 2
    ports.sessions.renew.assert_awaited_once_with(SESSION_ID, credentials_version=2)


async def test_a_session_opened_with_older_credentials_is_refused(ports: Ports) -> None:
    # Security review, finding 5: a log-in that read the user before a password change commits
    # opens its session after the change revoked the others.
    user = make_user()
    user.credentials_version = 2
    ports.log_in_as(user)  # the session carries version 1
    with pytest.raises(SessionRevokedError):
        await CurrentUser(ports.identity, ports.users).get()


async def test_a_refresh_of_a_session_with_older_credentials_revokes_it(ports: Ports) -> None:
    user = make_user()
    user.credentials_version = 3
    ports.users.get_by_id.return_value = user
    ports.sessions.rotate.return_value = RotatedSession(SESSION_ID, user.id_, "refresh-2", 2)
    with pytest.raises(SessionRevokedError):
        await RefreshSession(ports.sessions, ports.tokens, ports.users)(
            RefreshSessionRequest(refresh_token="refresh-1")
        )
    ports.sessions.revoke.assert_awaited_once_with(SESSION_ID)
    ports.tokens.issue.assert_not_called()


def test_a_rehash_keeps_the_credentials_and_a_new_password_bumps_them() -> None:
    user = make_user()
    user.replace_password_hash(PasswordHash("stronger-hash"), at=NOW)
    assert user.credentials_version == 1
    user.change_password_hash(PasswordHash("new-hash"), at=NOW)
    assert user.credentials_version == 2


async def test_change_password_does_not_commit_when_revocation_fails(ports: Ports) -> None:
    ports.log_in_as(make_user())
    ports.sessions.revoke_all.side_effect = ConnectionError("redis down")

    with pytest.raises(ConnectionError):
        await change_password(ports)(
            ChangePasswordRequest(current_password=PASSWORD, new_password="a brand new passphrase")
        )

    ports.transaction.commit.assert_not_awaited()


async def test_change_password_to_weak_password_revokes_nothing(ports: Ports) -> None:
    user = make_user(password_hash="old-hash")
    ports.log_in_as(user)

    with pytest.raises(WeakPasswordError):
        await change_password(ports)(
            ChangePasswordRequest(current_password=PASSWORD, new_password="alice-1234")
        )

    assert user.password_hash == PasswordHash("old-hash")
    ports.hasher.hash.assert_not_awaited()
    ports.sessions.revoke_all.assert_not_awaited()
    ports.transaction.commit.assert_not_awaited()


async def test_change_password_of_deactivated_caller_is_refused(ports: Ports) -> None:
    ports.log_in_as(make_user(status=UserStatus.INACTIVE))

    with pytest.raises(SessionRevokedError):
        await change_password(ports)(
            ChangePasswordRequest(current_password=PASSWORD, new_password="a brand new passphrase")
        )

    ports.hasher.verify.assert_not_awaited()
    ports.transaction.commit.assert_not_awaited()


def test_ports_fakes_are_autospecced() -> None:
    """Guard the harness itself: a misspelt port method must fail, not silently pass."""
    ports = Ports()
    with pytest.raises(AttributeError):
        ports.sessions.revoke_everything  # noqa: B018
    assert isinstance(ports.sessions.revoke_all, AsyncMock)


# --- CreateSuperAdmin (the CLI's) ----------------------------------------------------------------


def create_super_admin(ports: Ports) -> CreateSuperAdmin:
    return CreateSuperAdmin(ports.users, ports.user_service, ports.transaction, ports.clock)


async def test_create_super_admin_adds_an_active_super_admin_and_commits(ports: Ports) -> None:
    new_id = UserId(UUID("87654321-4321-8765-4321-876543218765"))
    ports.new_user_id.return_value = new_id

    response = await create_super_admin(ports)(
        CreateSuperAdminRequest(username=" Root ", email="Root@Example.com", password=PASSWORD)
    )

    assert response == {"id": str(new_id)}
    added: User = ports.users.add.call_args.args[0]
    assert added.id_ == new_id
    assert added.username == Username("root")
    assert added.email == Email("root@example.com")
    assert added.password_hash == PasswordHash("new-hash")
    assert added.role is Role.SUPER_ADMIN
    assert added.status is UserStatus.ACTIVE
    assert added.created_at == added.updated_at == NOW
    ports.hasher.hash.assert_awaited_once_with(RawPassword(PASSWORD))
    assert ports.order() == ["hasher.hash", "users.add", "transaction.commit"]


async def test_create_super_admin_with_a_weak_password_adds_nothing(ports: Ports) -> None:
    with pytest.raises(WeakPasswordError):
        await create_super_admin(ports)(
            CreateSuperAdminRequest(username="root", email="root@example.com", password="root")
        )
    ports.hasher.hash.assert_not_awaited()
    ports.users.add.assert_not_called()
    ports.transaction.commit.assert_not_awaited()
