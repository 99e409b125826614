from __future__ import annotations

from app.shared.application.errors import AuthenticationError, AuthorizationError
from app.shared.domain.errors import ConflictError


class InvalidCredentialsError(AuthenticationError):
    code = "invalid_credentials"


class SessionRevokedError(AuthenticationError):
    code = "session_revoked"


class WrongPasswordError(AuthorizationError):
    code = "wrong_password"


class RoleNotHeldError(ConflictError):
    code = "role_not_held"
