"""Error kinds raised by application services (authentication, authorization, capacity)."""

from __future__ import annotations

from app.shared.domain.errors import ConflictError, DomainError, InvalidValueError


class AuthenticationError(DomainError):
    """The caller is not authenticated (missing, invalid, expired or revoked credentials)."""

    code = "not_authenticated"


class AuthorizationError(DomainError):
    """The caller is authenticated but may not perform the action."""

    code = "forbidden"


class ServiceBusyError(DomainError):
    """A bounded resource is saturated; the client should retry later."""

    code = "service_busy"


class ConcurrentModificationError(ConflictError):
    """Someone else changed the same aggregate first (optimistic locking); reload and retry."""

    code = "concurrent_modification"


class RateLimitedError(DomainError):
    code = "rate_limited"

    def __init__(self, detail: str, *, retry_after: int, limit: int, **context: object) -> None:
        super().__init__(detail, **context)
        self.retry_after = retry_after
        self.limit = limit


class PaymentRequiredError(DomainError):
    """The request is valid, but a payment step refused it (402)."""

    code = "payment_required"


class InvalidCursorError(InvalidValueError):
    """A pagination cursor this listing did not issue (forged, stale or for another sort)."""

    code = "invalid_cursor"
