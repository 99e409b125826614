"""HTTP routes. No `from __future__ import annotations` here: FastAPI reads the annotations of
Dishka's injection wrapper, which cannot resolve postponed (string) annotations."""

from typing import Annotated
from uuid import UUID

from dishka.integrations.fastapi import FromDishka
from fastapi import Depends, Query, Request, Response, status

from app.identity.application.commands.activate_user import ActivateUser, ActivateUserRequest
from app.identity.application.commands.change_password import (
    ChangePassword,
    ChangePasswordRequest,
)
from app.identity.application.commands.deactivate_user import (
    DeactivateUser,
    DeactivateUserRequest,
)
from app.identity.application.commands.grant_role import GrantRole, GrantRoleRequest
from app.identity.application.commands.revoke_role import RevokeRole, RevokeRoleRequest
from app.identity.application.commands.sign_up import SignUp, SignUpRequest
from app.identity.application.ports.user_reader import UserFilter, UserSort
from app.identity.application.queries.get_me import GetMe
from app.identity.application.queries.get_user import GetUser, GetUserRequest
from app.identity.application.queries.list_users import ListUsers, ListUsersRequest
from app.identity.domain.value_objects import UserStatus
from app.identity.presentation.http.schemas import (
    ChangePasswordBody,
    CreatedOut,
    SignUpBody,
    UserOut,
    UserPageOut,
)
from app.shared.application.rate_limit import RateLimiter, RateLimitRule
from app.shared.domain.role import Role
from app.shared.presentation.http.bearer import oauth2_scheme
from app.shared.presentation.http.client import client_address
from app.shared.presentation.http.openapi import links, problems
from app.shared.presentation.http.routing import PrefixedRouter

router = PrefixedRouter(prefix="/api/v1/users", tags=["users"])
_authenticated = [Depends(oauth2_scheme)]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses={
        **problems(409, 429, 503),
        **links(
            201,
            "user_id",
            "$response.body#/id",
            "users-get_user",
            "users-grant_role",
            "users-revoke_role",
            "users-deactivate_user",
            "users-activate_user",
        ),
    },
)
async def sign_up(
    body: SignUpBody,
    request: Request,
    response: Response,
    interactor: FromDishka[SignUp],
    limiter: FromDishka[RateLimiter],
) -> CreatedOut:
    """Open a customer account. Usernames and e-mails are unique regardless of case; the password
    has 8 to 128 characters and must not contain the username or e-mail."""
    await limiter.hit_address(RateLimitRule.SIGN_UP_PER_ADDRESS, client_address(request))
    result = await interactor(
        SignUpRequest(username=body.username, email=body.email, password=body.password)
    )
    response.headers["Location"] = f"{router.prefix}/{result['id']}"
    return CreatedOut.model_validate(result)


@router.get("/me", responses=problems(401), dependencies=_authenticated)
async def get_me(interactor: FromDishka[GetMe]) -> UserOut:
    """The caller's own profile."""
    return UserOut.model_validate(await interactor())


@router.put(
    "/me/password",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(401, 403, 503),
    dependencies=_authenticated,
)
async def change_password(body: ChangePasswordBody, interactor: FromDishka[ChangePassword]) -> None:
    """Change the password (the current one is required); every other session is revoked."""
    await interactor(
        ChangePasswordRequest(
            current_password=body.current_password, new_password=body.new_password
        )
    )


@router.get("", responses=problems(401, 403), dependencies=_authenticated)
async def list_users(
    interactor: FromDishka[ListUsers],
    role: Role | None = None,
    status_: Annotated[UserStatus | None, Query(alias="status")] = None,
    search: Annotated[str | None, Query(max_length=64, pattern=r"^[^\x00]*$")] = None,
    sort: UserSort = UserSort.CREATED_AT_DESC,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> UserPageOut:
    """Admins: users filtered by role, status and a search term, one page at a time (pass the
    previous page's ``next_cursor``)."""
    page = await interactor(
        ListUsersRequest(
            filter_=UserFilter(role=role, status=status_, search=search),
            sort=sort,
            limit=limit,
            cursor=cursor,
        )
    )
    return UserPageOut.model_validate(page)


@router.get("/{user_id}", responses=problems(401, 403, 404), dependencies=_authenticated)
async def get_user(user_id: UUID, interactor: FromDishka[GetUser]) -> UserOut:
    """Admins: one user by id."""
    return UserOut.model_validate(await interactor(GetUserRequest(user_id=user_id)))


@router.put(
    "/{user_id}/roles/{role}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(401, 403, 404),
    dependencies=_authenticated,
)
async def grant_role(user_id: UUID, role: Role, interactor: FromDishka[GrantRole]) -> None:
    """Give a user a role strictly below your own (super_admin is never granted)."""
    await interactor(GrantRoleRequest(user_id=user_id, role=role))


@router.delete(
    "/{user_id}/roles/{role}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(401, 403, 404, 409),
    dependencies=_authenticated,
)
async def revoke_role(user_id: UUID, role: Role, interactor: FromDishka[RevokeRole]) -> None:
    """Take a role (strictly below your own) away; the user becomes a customer."""
    await interactor(RevokeRoleRequest(user_id=user_id, role=role))


@router.post(
    "/{user_id}/deactivate",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(401, 403, 404),
    dependencies=_authenticated,
)
async def deactivate_user(user_id: UUID, interactor: FromDishka[DeactivateUser]) -> None:
    """Deactivate a user below your role; all of their sessions end at once."""
    await interactor(DeactivateUserRequest(user_id=user_id))


@router.post(
    "/{user_id}/activate",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(401, 403, 404),
    dependencies=_authenticated,
)
async def activate_user(user_id: UUID, interactor: FromDishka[ActivateUser]) -> None:
    """Let a deactivated user log in again."""
    await interactor(ActivateUserRequest(user_id=user_id))
