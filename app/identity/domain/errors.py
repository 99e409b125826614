"""Errors of the identity context."""

from __future__ import annotations

from app.shared.domain.errors import ConflictError, InvalidValueError, NotFoundError


class InvalidUsernameError(InvalidValueError):
    code = "invalid_username"


class InvalidEmailError(InvalidValueError):
    code = "invalid_email"


class WeakPasswordError(InvalidValueError):
    code = "weak_password"


class UsernameTakenError(ConflictError):
    code = "username_taken"


class EmailTakenError(ConflictError):
    code = "email_taken"


class UserNotFoundError(NotFoundError):
    code = "user_not_found"


class RoleNotAssignableError(InvalidValueError):
    code = "role_not_assignable"
