from __future__ import annotations

from app.shared.domain.errors import InvalidValueError


class InvalidPriceRangeError(InvalidValueError):
    code = "invalid_price_range"
