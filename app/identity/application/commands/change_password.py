from __future__ import annotations

from dataclasses import dataclass

from app.identity.application.current_user import CurrentUser
from app.identity.application.errors import SessionRevokedError, WrongPasswordError
from app.identity.application.ports.auth import SessionStore
from app.identity.domain.user_service import UserService
from app.identity.domain.value_objects import RawPassword
from app.shared.application.errors import RateLimitedError
from app.shared.application.ports import Clock, TransactionManager
from app.shared.application.rate_limit import RateLimiter, RateLimitRule


@dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class ChangePasswordRequest:
    current_password: str
    new_password: str


class ChangePassword:
    """Needs the current password; every other session of the user is revoked.

    Each attempt costs a hash, and a stolen access token must not become a free guessing
    oracle: attempts are limited per user before any hashing, and one wrong current password
    too many ends the session that sent it (security review, finding 3).
    """

    def __init__(
        self,
        current_user: CurrentUser,
        user_service: UserService,
        sessions: SessionStore,
        transaction: TransactionManager,
        clock: Clock,
        limiter: RateLimiter,
    ) -> None:
        self._current_user = current_user
        self._user_service = user_service
        self._sessions = sessions
        self._transaction = transaction
        self._clock = clock
        self._limiter = limiter

    async def __call__(self, request: ChangePasswordRequest) -> None:
        session = await self._current_user.session()
        user = await self._current_user.get()
        await self._limiter.hit(RateLimitRule.CHANGE_PASSWORD_PER_USER, str(user.id_))
        check = await self._user_service.check_password(user, RawPassword(request.current_password))
        if not check.valid:
            try:
                await self._limiter.hit(RateLimitRule.WRONG_PASSWORD_PER_USER, str(user.id_))
            except RateLimitedError:
                await self._sessions.revoke(session.session_id)
                raise SessionRevokedError(
                    "Too many wrong passwords: this session has ended; log in again."
                ) from None
            raise WrongPasswordError("The current password is wrong.")
        await self._user_service.change_password(
            user, RawPassword(request.new_password), at=self._clock.now()
        )
        await self._transaction.flush()
        # Revoke before commit: if revocation fails, the old password stays and so do the sessions.
        await self._sessions.revoke_all(user.id_, keep=session.session_id)
        await self._transaction.commit()
        # The caller's own session goes on under the new password. Any session opened with the
        # old one after the revocation above (a log-in that read the user before this commit)
        # keeps the old version and is refused on its next request (security review, finding 5).
        # Should this fail, the caller's session is refused too: safe, they log in again.
        await self._sessions.renew(session.session_id, credentials_version=user.credentials_version)
