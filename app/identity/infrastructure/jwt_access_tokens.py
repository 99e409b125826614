"""Short-lived HS256 access tokens that carry the session id (checked on every request)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import timedelta
from typing import Final
from uuid import UUID

import jwt

from app.identity.application.ports.auth import AccessToken, AuthenticatedSession, SessionId
from app.identity.domain.value_objects import UserId
from app.shared.application.errors import AuthenticationError
from app.shared.application.ports import Clock

_ALGORITHM: Final = "HS256"
# Tokens verified in this process, by their full text: a client sends the same token with every
# request until it expires, and PyJWT's verification costs about 40 µs of CPU. Only tokens that
# passed it get in, so the bound is on memory, not trust (about 1 MB).
_VERIFIED_CAPACITY: Final = 4096


class JwtAccessTokens:
    def __init__(
        self, *, secret: str, ttl: timedelta, issuer: str, audience: str, clock: Clock
    ) -> None:
        self._secret = secret
        self._ttl = ttl
        self._issuer = issuer
        self._audience = audience
        self._clock = clock
        self._verified: dict[str, tuple[AuthenticatedSession, float]] = {}

    def issue(self, user_id: UserId, session_id: SessionId) -> AccessToken:
        now = self._clock.now()
        claims = {
            "sub": str(user_id),
            "sid": session_id,
            "iss": self._issuer,
            "aud": self._audience,
            "iat": now,
            "exp": now + self._ttl,
        }
        return AccessToken(
            token=jwt.encode(claims, self._secret, algorithm=_ALGORITHM),
            expires_in=int(self._ttl.total_seconds()),
            csrf_token=self.csrf_token(session_id),
        )

    def decode(self, token: str) -> AuthenticatedSession:
        """Verify signature, algorithm (HS256 only, so ``alg=none`` fails), expiry and audience.

        Expired once the clock reaches ``exp``. A token verified before is trusted again until
        then; revocation is the session store's job, checked on every request.
        """
        known = self._verified.get(token)
        if known is not None:
            session, expires_at = known
            if self._clock.now().timestamp() < expires_at:
                return session
            del self._verified[token]
        session, expires_at = self._verify(token)
        if len(self._verified) >= _VERIFIED_CAPACITY:
            del self._verified[next(iter(self._verified))]  # the oldest
        self._verified[token] = (session, expires_at)
        return session

    def _verify(self, token: str) -> tuple[AuthenticatedSession, float]:
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[_ALGORITHM],
                audience=self._audience,
                issuer=self._issuer,
                # Expiry is checked against self._clock below, as the cached path does.
                options={
                    "require": ["sub", "sid", "exp", "iat", "iss", "aud"],
                    "verify_exp": False,
                },
            )
            expires_at = claims["exp"]
            if type(expires_at) is not int or self._clock.now().timestamp() >= expires_at:
                raise ValueError(expires_at)  # noqa: TRY301 - funnels into the one error below
            session = AuthenticatedSession(
                user_id=UserId(UUID(claims["sub"])), session_id=SessionId(str(claims["sid"]))
            )
            return session, float(expires_at)
        except (jwt.PyJWTError, ValueError, TypeError):
            raise AuthenticationError("The access token is invalid or has expired.") from None

    def csrf_token(self, session_id: SessionId) -> str:
        mac = hmac.new(self._secret.encode(), f"csrf:{session_id}".encode(), hashlib.sha256)
        return base64.urlsafe_b64encode(mac.digest()).decode().rstrip("=")
