"""Finds the caller's session from the HTTP request: bearer header first, then the cookie.

Cookie-authenticated writes must echo the session's CSRF token in ``X-CSRF-Token`` (double
submit bound to the session): a cross-site form can send the cookie but cannot read the token.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, replace
from typing import Final, Literal

from starlette.requests import Request
from starlette.responses import Response

from app.identity.application.commands.log_in import TokenPair
from app.identity.application.errors import SessionRevokedError
from app.identity.application.ports.auth import AccessTokenCodec, AuthenticatedSession, SessionStore
from app.shared.application.errors import AuthenticationError, AuthorizationError

ACCESS_COOKIE: Final = "access_token"
REFRESH_COOKIE: Final = "refresh_token"
CSRF_COOKIE: Final = "csrf_token"
CSRF_HEADER: Final = "X-CSRF-Token"
_SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})


class CsrfError(AuthorizationError):
    code = "csrf_failed"


def bearer_token(request: Request) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


class HttpIdentityProvider:
    def __init__(self, request: Request, tokens: AccessTokenCodec, sessions: SessionStore) -> None:
        self._request = request
        self._tokens = tokens
        self._sessions = sessions
        self._resolved: AuthenticatedSession | None = None

    async def current_session(self) -> AuthenticatedSession:
        if self._resolved is None:
            self._resolved = await self._resolve()
        return self._resolved

    def has_credentials(self) -> bool:
        return bearer_token(self._request) is not None or ACCESS_COOKIE in self._request.cookies

    async def _resolve(self) -> AuthenticatedSession:
        token = bearer_token(self._request)
        from_cookie = token is None
        if token is None:
            token = self._request.cookies.get(ACCESS_COOKIE)
        if not token:
            raise AuthenticationError("Authentication is required.")
        session = self._tokens.decode(token)
        if from_cookie:
            self._check_csrf(session)
        version = await self._sessions.credentials_version(session)
        if version is None:
            raise SessionRevokedError("This session has ended; log in again.")
        return replace(session, credentials_version=version)

    def _check_csrf(self, session: AuthenticatedSession) -> None:
        if self._request.method in _SAFE_METHODS:
            return
        presented = self._request.headers.get(CSRF_HEADER, "")
        expected = self._tokens.csrf_token(session.session_id)
        if not hmac.compare_digest(presented.encode(), expected.encode()):
            raise CsrfError(f"Cookie-authenticated writes need the {CSRF_HEADER} header.")


@dataclass(frozen=True, slots=True)
class CookiePolicy:
    secure: bool
    samesite: Literal["lax", "strict"]
    access_max_age: int
    refresh_max_age: int
    # The refresh cookie goes only to the auth routes, under the proxy's path prefix if any.
    refresh_path: str = "/api/v1/auth"


def set_auth_cookies(response: Response, tokens: TokenPair, policy: CookiePolicy) -> None:
    """HttpOnly tokens (unreadable by scripts); the CSRF token is readable on purpose."""
    response.set_cookie(
        ACCESS_COOKIE,
        tokens["access_token"],
        max_age=policy.access_max_age,
        httponly=True,
        secure=policy.secure,
        samesite=policy.samesite,
    )
    response.set_cookie(
        REFRESH_COOKIE,
        tokens["refresh_token"],
        max_age=policy.refresh_max_age,
        path=policy.refresh_path,
        httponly=True,
        secure=policy.secure,
        samesite="strict",
    )
    response.set_cookie(
        CSRF_COOKIE,
        tokens["csrf_token"],
        max_age=policy.refresh_max_age,
        httponly=False,
        secure=policy.secure,
        samesite=policy.samesite,
    )


def clear_auth_cookies(response: Response, policy: CookiePolicy) -> None:
    for name, path in (
        (ACCESS_COOKIE, "/"),
        (REFRESH_COOKIE, policy.refresh_path),
        (CSRF_COOKIE, "/"),
    ):
        response.delete_cookie(name, path=path, secure=policy.secure, httponly=name != CSRF_COOKIE)
