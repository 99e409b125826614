from __future__ import annotations

from dataclasses import dataclass
from typing import TypedDict

from app.identity.application.errors import InvalidCredentialsError
from app.identity.application.ports.auth import AccessTokenCodec, SessionStore
from app.identity.application.ports.login_throttle import LoginThrottle
from app.identity.application.ports.user_repository import UserRepository
from app.identity.domain.ports import PasswordHasher
from app.identity.domain.user import User
from app.identity.domain.user_service import UserService
from app.identity.domain.value_objects import Email, RawPassword, Username
from app.shared.application.ports import Clock, TransactionManager
from app.shared.domain.errors import InvalidValueError


@dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class LogInRequest:
    login: str  # a username or an e-mail address
    password: str
    client_address: str = "unknown"


class TokenPair(TypedDict):
    access_token: str
    refresh_token: str
    token_type: str
    expires_in: int
    csrf_token: str


class LogIn:
    """Opens a server-side session for valid credentials of an active user.

    Unknown user, wrong password and inactive user fail alike (same error, same work), so the
    answer tells an attacker nothing about which accounts exist.

    Guessing is counted per account, after the login (a username or its e-mail address) is
    resolved: per account and address, and per account from anywhere with a back-off that
    spares the networks the owner logs in from (security review, finding 4).
    """

    def __init__(  # noqa: PLR0913, PLR0917 - each port is a distinct collaborator
        self,
        users: UserRepository,
        user_service: UserService,
        hasher: PasswordHasher,
        sessions: SessionStore,
        tokens: AccessTokenCodec,
        transaction: TransactionManager,
        clock: Clock,
        throttle: LoginThrottle,
    ) -> None:
        self._users = users
        self._user_service = user_service
        self._hasher = hasher
        self._sessions = sessions
        self._tokens = tokens
        self._transaction = transaction
        self._clock = clock
        self._throttle = throttle

    async def __call__(self, request: LogInRequest) -> TokenPair:
        try:
            password = RawPassword(request.password)
        except InvalidValueError:
            raise InvalidCredentialsError("Invalid credentials.") from None
        user = await self._find(request.login)
        if user is None:
            await self._hasher.verify_dummy(password)
            raise InvalidCredentialsError("Invalid credentials.")
        address = request.client_address
        await self._throttle.check(user.id_, address)  # before the hash: no work when refused
        check = await self._user_service.check_password(user, password)
        if not check.valid:
            await self._throttle.failed(user.id_)
            raise InvalidCredentialsError("Invalid credentials.")
        if not user.is_active:
            raise InvalidCredentialsError("Invalid credentials.")
        await self._throttle.succeeded(user.id_, address)
        if check.upgraded_hash is not None:
            user.replace_password_hash(check.upgraded_hash, at=self._clock.now())
            await self._transaction.commit()
        session = await self._sessions.open(user.id_, credentials_version=user.credentials_version)
        access = self._tokens.issue(user.id_, session.session_id)
        return TokenPair(
            access_token=access.token,
            refresh_token=session.refresh_token,
            token_type="bearer",  # noqa: S106 - the OAuth2 token type, not a secret  # nosec B106
            expires_in=access.expires_in,
            csrf_token=access.csrf_token,
        )

    async def _find(self, login: str) -> User | None:
        try:
            if "@" in login:
                return await self._users.get_by_email(Email.parse(login))
            return await self._users.get_by_username(Username.parse(login))
        except InvalidValueError:
            return None
