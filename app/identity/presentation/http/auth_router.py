"""HTTP routes. No `from __future__ import annotations` here: FastAPI reads the annotations of
Dishka's injection wrapper, which cannot resolve postponed (string) annotations."""

from typing import Annotated

from dishka.integrations.fastapi import FromDishka
from fastapi import Depends, Form, Request, Response, status

from app.identity.application.commands.log_in import LogIn, LogInRequest
from app.identity.application.commands.log_out import LogOut
from app.identity.application.commands.log_out_everywhere import LogOutEverywhere
from app.identity.application.commands.refresh_session import (
    RefreshSession,
    RefreshSessionRequest,
)
from app.identity.application.errors import SessionRevokedError
from app.identity.presentation.http.auth import (
    REFRESH_COOKIE,
    CookiePolicy,
    bearer_token,
    clear_auth_cookies,
    set_auth_cookies,
)
from app.identity.presentation.http.schemas import (
    LogInBody,
    OAuth2TokenOut,
    RefreshBody,
    RevokedSessionsOut,
    TokenForm,
    TokenOut,
)
from app.shared.application.rate_limit import RateLimiter, RateLimitRule
from app.shared.presentation.http.bearer import oauth2_scheme
from app.shared.presentation.http.client import client_address
from app.shared.presentation.http.openapi import problems
from app.shared.presentation.http.routing import PrefixedRouter

router = PrefixedRouter(prefix="/api/v1/auth", tags=["auth"])


def _token_out(tokens: dict[str, object], *, as_cookies: bool) -> TokenOut:
    if as_cookies:
        return TokenOut(
            token_type="cookie",  # noqa: S106 - not a secret  # nosec B106
            expires_in=int(str(tokens["expires_in"])),
            csrf_token=str(tokens["csrf_token"]),
        )
    return TokenOut.model_validate(tokens)


async def _limit_log_in(limiter: RateLimiter, request: Request) -> None:
    # Per address (password spraying from one host); LogIn counts per account, once it has
    # resolved the login to one.
    await limiter.hit_address(RateLimitRule.LOGIN_PER_ADDRESS, client_address(request))


@router.post("/login", responses=problems(401, 429, 503))
async def log_in(
    body: LogInBody,
    request: Request,
    response: Response,
    interactor: FromDishka[LogIn],
    cookies: FromDishka[CookiePolicy],
    limiter: FromDishka[RateLimiter],
) -> TokenOut:
    """Log in with a username (or e-mail) and password.

    Returns a short-lived access token and a single-use refresh token; with ``cookie: true`` both
    are set as HttpOnly cookies instead and cookie-authenticated writes must send ``X-CSRF-Token``.
    """
    await _limit_log_in(limiter, request)
    tokens = await interactor(
        LogInRequest(
            login=body.login, password=body.password, client_address=client_address(request)
        )
    )
    if body.cookie:
        set_auth_cookies(response, tokens, cookies)
    return _token_out(dict(tokens), as_cookies=body.cookie)


@router.post("/token", responses=problems(401, 429, 503))
async def issue_token(
    form: Annotated[TokenForm, Form()],
    request: Request,
    interactor: FromDishka[LogIn],
    limiter: FromDishka[RateLimiter],
) -> OAuth2TokenOut:
    """OAuth2 password flow (form-encoded), used by Swagger UI's Authorize button."""
    await _limit_log_in(limiter, request)
    tokens = await interactor(
        LogInRequest(
            login=form.username, password=form.password, client_address=client_address(request)
        )
    )
    return OAuth2TokenOut.model_validate(dict(tokens))


@router.post("/refresh", responses=problems(401, 503))
async def refresh(
    request: Request,
    response: Response,
    interactor: FromDishka[RefreshSession],
    cookies: FromDishka[CookiePolicy],
    body: RefreshBody | None = None,
) -> TokenOut:
    """Swap a refresh token for new tokens. Each refresh token works once; a replay revokes the
    session."""
    # A token in the body is answered in the body; otherwise the cookie is used and answered with
    # cookies, so tokens set HttpOnly never reach a script.
    body_token = body.refresh_token if body is not None else None
    from_cookie = not body_token
    refresh_token = body_token or request.cookies.get(REFRESH_COOKIE)
    if not refresh_token:
        raise SessionRevokedError("Send a refresh token in the body or the refresh cookie.")
    tokens = await interactor(RefreshSessionRequest(refresh_token=refresh_token))
    if from_cookie:
        set_auth_cookies(response, tokens, cookies)
    return _token_out(dict(tokens), as_cookies=from_cookie)


@router.post(
    "/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(401, 403),
    dependencies=[Depends(oauth2_scheme)],
)
async def log_out(
    request: Request,
    response: Response,
    interactor: FromDishka[LogOut],
    cookies: FromDishka[CookiePolicy],
) -> None:
    """End this session: its access and refresh tokens stop working at once."""
    await interactor()
    if bearer_token(request) is None:  # a cookie session: drop the cookies too
        clear_auth_cookies(response, cookies)


@router.post("/logout-all", responses=problems(401, 403), dependencies=[Depends(oauth2_scheme)])
async def log_out_everywhere(
    request: Request,
    response: Response,
    interactor: FromDishka[LogOutEverywhere],
    cookies: FromDishka[CookiePolicy],
) -> RevokedSessionsOut:
    """End every session of the caller, on every device."""
    result = await interactor()
    if bearer_token(request) is None:
        clear_auth_cookies(response, cookies)
    return RevokedSessionsOut(revoked_sessions=result["revoked_sessions"])
