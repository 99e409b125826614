from __future__ import annotations

from dataclasses import dataclass

from app.identity.application.commands.log_in import TokenPair
from app.identity.application.errors import SessionRevokedError
from app.identity.application.ports.auth import AccessTokenCodec, SessionStore
from app.identity.application.ports.user_repository import UserRepository


@dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class RefreshSessionRequest:
    refresh_token: str


class RefreshSession:
    """Rotates the refresh token and issues a fresh access token.

    Each refresh token works once: presenting an already-rotated one revokes the session, since
    either the client or an attacker holds a stolen copy.
    """

    def __init__(
        self, sessions: SessionStore, tokens: AccessTokenCodec, users: UserRepository
    ) -> None:
        self._sessions = sessions
        self._tokens = tokens
        self._users = users

    async def __call__(self, request: RefreshSessionRequest) -> TokenPair:
        rotated = await self._sessions.rotate(request.refresh_token)
        user = await self._users.get_by_id(rotated.user_id)
        if (
            user is None
            or not user.is_active
            or user.credentials_version != rotated.credentials_version
        ):
            await self._sessions.revoke(rotated.session_id)
            raise SessionRevokedError("Your session is no longer valid.")
        access = self._tokens.issue(rotated.user_id, rotated.session_id)
        return TokenPair(
            access_token=access.token,
            refresh_token=rotated.refresh_token,
            token_type="bearer",  # noqa: S106 - the OAuth2 token type, not a secret  # nosec B106
            expires_in=access.expires_in,
            csrf_token=access.csrf_token,
        )
