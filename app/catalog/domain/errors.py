"""Errors of the catalog context."""

from __future__ import annotations

from app.shared.domain.errors import ConflictError, InvalidValueError, NotFoundError


class InvalidSkuError(InvalidValueError):
    code = "invalid_sku"


class InvalidProductNameError(InvalidValueError):
    code = "invalid_product_name"


class InvalidDescriptionError(InvalidValueError):
    code = "invalid_description"


class InvalidStockChangeError(InvalidValueError):
    code = "invalid_stock_change"


class InsufficientStockError(ConflictError):
    code = "insufficient_stock"


class StockLimitError(ConflictError):
    """A change the stock on hand cannot take: a conflict with the current stock, as going below
    zero is, and not bad input: the same request succeeds on a product with less stock."""

    code = "stock_limit_exceeded"


class SkuTakenError(ConflictError):
    code = "sku_taken"


class ProductNotFoundError(NotFoundError):
    code = "product_not_found"


class InvalidProductTransitionError(ConflictError):
    code = "invalid_product_transition"
