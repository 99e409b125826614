from __future__ import annotations

from app.shared.domain.errors import InvalidValueError


class InvalidCursorError(InvalidValueError):
    code = "invalid_cursor"


class InvalidPriceRangeError(InvalidValueError):
    code = "invalid_price_range"
