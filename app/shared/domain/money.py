"""Money: a Decimal amount in an ISO 4217 currency. Never a float; never two currencies mixed."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Final

from app.shared.domain.errors import InvalidValueError

# ISO 4217 codes this platform accepts, with their minor units (decimal places).
MINOR_UNITS: Final[dict[str, int]] = {
    "AUD": 2, "BRL": 2, "CAD": 2, "CHF": 2, "CNY": 2, "CZK": 2, "DKK": 2, "EUR": 2, "GBP": 2,
    "HKD": 2, "HUF": 2, "INR": 2, "JPY": 0, "KRW": 0, "MXN": 2, "NOK": 2, "NZD": 2, "PLN": 2,
    "SEK": 2, "SGD": 2, "USD": 2, "ZAR": 2,
}  # fmt: skip
MAX_AMOUNT: Final = Decimal("9999999999.99")


class InvalidMoneyError(InvalidValueError):
    code = "invalid_money"


class CurrencyMismatchError(InvalidValueError):
    code = "currency_mismatch"


@dataclass(frozen=True, slots=True)
class Money:
    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        if self.currency not in MINOR_UNITS:
            raise InvalidMoneyError(f"Unsupported currency {self.currency!r} (ISO 4217 code).")
        if not isinstance(self.amount, Decimal) or not self.amount.is_finite():
            raise InvalidMoneyError("An amount is a finite decimal number.")
        places = MINOR_UNITS[self.currency]
        exponent = self.amount.normalize().as_tuple().exponent
        if isinstance(exponent, int) and -exponent > places:
            raise InvalidMoneyError(
                f"{self.currency} amounts have at most {places} decimal places."
            )
        if abs(self.amount) > MAX_AMOUNT:
            raise InvalidMoneyError("The amount is too large.")
        # One representation per value: 10.5 and 10.50 USD are stored and shown alike.
        object.__setattr__(self, "amount", self.amount.quantize(Decimal(1).scaleb(-places)))

    @classmethod
    def of(cls, amount: str | int | Decimal, currency: str) -> Money:
        """Parse untrusted input (strings, never floats)."""
        if isinstance(amount, float | bool):
            # 0.1 as a float is 0.1000000000000000055511151231257827...: never money.
            raise InvalidMoneyError("Amounts are decimal strings or integers, never floats.")
        try:
            value = Decimal(amount) if not isinstance(amount, Decimal) else amount
        except (InvalidOperation, ValueError):
            raise InvalidMoneyError(f"{amount!r} is not a decimal amount.") from None
        code = currency.strip()  # ASCII before folding: "\u017f".upper() is "S"
        return cls(value, code.upper() if code.isascii() else code)

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(Decimal(0), currency)

    def _same_currency(self, other: Money) -> None:
        if other.currency != self.currency:
            raise CurrencyMismatchError(
                f"Cannot combine {self.currency} and {other.currency} amounts."
            )

    def __add__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.amount - other.amount, self.currency)

    def times(self, quantity: int) -> Money:
        return Money(self.amount * quantity, self.currency)

    def __lt__(self, other: Money) -> bool:
        self._same_currency(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._same_currency(other)
        return self.amount <= other.amount

    @property
    def is_positive(self) -> bool:
        return self.amount > 0

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"


def format_amount(amount: Decimal, currency: str) -> str:
    """An amount at its currency's scale, as Money shows it: "12.50" EUR, "1500" JPY (whatever
    scale the storage column has)."""
    return str(amount.quantize(Decimal(1).scaleb(-MINOR_UNITS.get(currency, 2))))
