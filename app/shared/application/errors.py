"""Error kinds raised by application services (authentication, authorization, capacity)."""

from __future__ import annotations

from app.shared.domain.errors import DomainError


class AuthenticationError(DomainError):
    """The caller is not authenticated (missing, invalid, expired or revoked credentials)."""

    code = "not_authenticated"


class AuthorizationError(DomainError):
    """The caller is authenticated but may not perform the action."""

    code = "forbidden"


class ServiceBusyError(DomainError):
    """A bounded resource is saturated; the client should retry later."""

    code = "service_busy"
