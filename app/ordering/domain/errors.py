"""Errors of the ordering context."""

from __future__ import annotations

from app.shared.domain.errors import ConflictError, GoneError, InvalidValueError, NotFoundError


class InvalidOrderTransitionError(ConflictError):
    code = "invalid_order_transition"


class OrderNotOverdueError(ConflictError):
    code = "order_not_overdue"


class OrderNotFoundError(NotFoundError):
    code = "order_not_found"


class InvalidQuantityError(InvalidValueError):
    code = "invalid_quantity"


class InvalidLineCountError(InvalidValueError):
    code = "invalid_line_count"


class DuplicateOrderLineError(InvalidValueError):
    code = "duplicate_order_line"


class InvalidOrderLineError(InvalidValueError):
    code = "invalid_order_line"


class InvalidPaymentReferenceError(InvalidValueError):
    code = "invalid_payment_reference"


class InvalidCancellationReasonError(InvalidValueError):
    code = "invalid_cancellation_reason"


class ExportNotFoundError(NotFoundError):
    code = "export_not_found"


class ExportFinishedError(ConflictError):
    """The export already completed or failed: there is nothing left to cancel."""

    code = "export_finished"


class ExportNotReadyError(ConflictError):
    code = "export_not_ready"


class ExportExpiredError(GoneError):
    code = "export_expired"


class TooManyExportsError(ConflictError):
    code = "too_many_exports"


class TooManyPendingOrdersError(ConflictError):
    code = "too_many_pending_orders"


class TooManyPendingUnitsError(ConflictError):
    code = "too_many_pending_units"


class TooManyUnitsOfProductError(ConflictError):
    """A customer's bound, as the pending bounds are: the same request is valid from staff, and
    the schema (which cannot know who asks, nor the operator's setting) allows 1000 units."""

    code = "too_many_units_of_product"
