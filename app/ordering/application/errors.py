from __future__ import annotations

from app.shared.application.errors import AuthorizationError, PaymentRequiredError
from app.shared.domain.errors import InvalidValueError


class PaymentDeclinedError(PaymentRequiredError):
    code = "payment_declined"


class CancellationNotAllowedError(AuthorizationError):
    code = "cancellation_not_allowed"


class NotOrderOwnerError(AuthorizationError):
    code = "not_order_owner"


class InvalidDateRangeError(InvalidValueError):
    code = "invalid_date_range"
