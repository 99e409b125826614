"""HTTP request and response bodies (Pydantic); never ORM objects, never the password hash."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from app.identity.domain.value_objects import RawPassword
from app.shared.domain.role import Role
from app.shared.presentation.http.fields import EMAIL, NOT_BLANK, USERNAME, documented
from app.shared.presentation.http.pages import PageOut


class SignUpBody(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "username": "alice",
                    "email": "alice@example.com",
                    "password": "correct horse battery",  # nosec B105  # an OpenAPI example
                }
            ]
        },
    )

    username: str = Field(max_length=320, json_schema_extra=documented(USERNAME))
    email: str = Field(max_length=254, json_schema_extra=documented(EMAIL))
    # The policy is the domain's (weak_password); Pydantic only bounds the input.
    password: str = Field(
        min_length=1,
        max_length=1024,
        description="Not containing the username or the e-mail address.",
        json_schema_extra={
            **documented(NOT_BLANK),
            "minLength": RawPassword.MIN_LENGTH,
            "maxLength": RawPassword.MAX_LENGTH,
        },
    )


class LogInBody(BaseModel):
    login: str = Field(min_length=1, max_length=320, description="Username or e-mail address")
    password: str = Field(min_length=1, max_length=1024)
    cookie: bool = Field(
        default=False,
        description="Set HttpOnly cookies instead of returning the tokens (browser clients).",
    )


# The log-in's rules in the form: FastAPI's OAuth2PasswordRequestForm let the schema allow an
# empty username or password, which the server refuses (an empty form field is a missing one).
class TokenForm(BaseModel):
    """The OAuth2 password grant's form (RFC 6749, 4.3.2), as Swagger UI's Authorize button
    posts it."""

    # A form has no null: absent fields take these defaults.
    grant_type: Literal["password"] = "password"
    username: str = Field(min_length=1, max_length=320, description="Username or e-mail address")
    password: str = Field(
        min_length=1, max_length=1024, json_schema_extra={"format": "password"}, repr=False
    )
    scope: str = ""
    client_id: str = ""
    client_secret: str = Field(default="", json_schema_extra={"format": "password"}, repr=False)


class RefreshBody(BaseModel):
    refresh_token: str | None = Field(
        default=None, min_length=1, max_length=512, description="Omit to use the refresh cookie."
    )


class ChangePasswordBody(BaseModel):
    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=1, max_length=1024)


class CreatedOut(BaseModel):
    id: UUID


class TokenOut(BaseModel):
    """Tokens are omitted when they were set as cookies."""

    token_type: str
    expires_in: int
    csrf_token: str
    access_token: str | None = None
    refresh_token: str | None = None


class OAuth2TokenOut(BaseModel):
    access_token: str
    token_type: str
    expires_in: int
    refresh_token: str


class RevokedSessionsOut(BaseModel):
    revoked_sessions: int


class UserOut(BaseModel):
    id: UUID
    username: str
    email: str
    role: Role
    status: str
    created_at: datetime
    updated_at: datetime


class UserPageOut(PageOut[UserOut]):
    pass
