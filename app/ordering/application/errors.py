from __future__ import annotations

from app.shared.application.errors import (
    AuthorizationError,
    PaymentRequiredError,
    ServiceBusyError,
)
from app.shared.domain.errors import InvalidValueError


class PaymentDeclinedError(PaymentRequiredError):
    code = "payment_declined"


class PaymentGatewayError(ServiceBusyError):
    """The gateway approved a charge with an answer the order cannot record (no usable
    reference): nothing is recorded, and the client retries later with the same key (the
    gateway takes the order id as its idempotency key, so the retry is not charged again)."""

    code = "payment_gateway_error"


class CancellationNotAllowedError(AuthorizationError):
    code = "cancellation_not_allowed"


class NotOrderOwnerError(AuthorizationError):
    code = "not_order_owner"


class InvalidDateRangeError(InvalidValueError):
    code = "invalid_date_range"
