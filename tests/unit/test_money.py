"""Money: decimal amounts parsed from text, one scale per currency, never two currencies mixed."""

from __future__ import annotations

from decimal import Decimal

import pytest

from app.shared.domain.errors import InvalidValueError
from app.shared.domain.money import (
    MAX_AMOUNT,
    CurrencyMismatchError,
    InvalidMoneyError,
    Money,
    format_amount,
)


@pytest.mark.parametrize(
    ("raw", "currency", "expected"),
    [
        ("10", "USD", "10.00"),
        ("10.5", "USD", "10.50"),
        ("10.50", "USD", "10.50"),
        ("0.01", "EUR", "0.01"),
        (" 7.25 ", "EUR", "7.25"),
        ("1e3", "EUR", "1000.00"),
        (3, "EUR", "3.00"),
        (Decimal("4.1"), "GBP", "4.10"),
        ("1500", "JPY", "1500"),
        ("1500.00", "JPY", "1500"),
        ("250", "KRW", "250"),
        ("-2.5", "EUR", "-2.50"),
    ],
)
def test_parses_text_and_normalises_to_the_currency_scale(
    raw: str | int | Decimal, currency: str, expected: str
) -> None:
    money = Money.of(raw, currency)
    assert str(money.amount) == expected
    assert money.currency == currency
    assert isinstance(money.amount, Decimal)


def test_ten_and_a_half_equals_ten_fifty_and_they_hash_alike() -> None:
    a, b = Money.of("10.5", "EUR"), Money.of("10.50", "EUR")
    assert a == b
    assert hash(a) == hash(b)
    assert str(a) == str(b) == "10.50 EUR"
    assert len({a, b}) == 1


def test_same_amount_in_different_currencies_is_not_equal() -> None:
    assert Money.of("10", "EUR") != Money.of("10", "USD")


@pytest.mark.parametrize("code", [" eur ", "eur", "Eur"])
def test_currency_codes_are_trimmed_and_upper_cased(code: str) -> None:
    assert Money.of("1", code).currency == "EUR"


@pytest.mark.parametrize(
    "code",
    ["", "EU", "EURO", "XXX", "ABC", "€", "usd1", "BTC", "u\u017fd"],  # the long s upper-cases to S
)
def test_unknown_currencies_are_refused(code: str) -> None:
    with pytest.raises(InvalidMoneyError):
        Money.of("1.00", code)


def test_the_constructor_checks_the_currency_too() -> None:
    with pytest.raises(InvalidMoneyError):
        Money(Decimal(1), "eur")  # the constructor does not normalise: only of() parses


@pytest.mark.parametrize(
    "raw", ["", "abc", "1,50", "1.2.3", "NaN", "nan", "Infinity", "-Infinity", "sNaN", "0x10"]
)
def test_text_that_is_not_a_finite_decimal_is_refused(raw: str) -> None:
    with pytest.raises(InvalidMoneyError):
        Money.of(raw, "EUR")


@pytest.mark.parametrize("value", [10.5, 0.1, 3.0])
def test_floats_are_refused_by_of(value: float) -> None:
    # "Parse untrusted input (strings, never floats)": a float has already lost precision.
    with pytest.raises(InvalidMoneyError):
        Money.of(value, "EUR")  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [True, False])
def test_booleans_are_not_amounts(value: bool) -> None:
    with pytest.raises(InvalidMoneyError):
        Money.of(value, "EUR")


@pytest.mark.parametrize("value", [10.5, 1, "1.00"])
def test_the_constructor_takes_decimals_only(value: object) -> None:
    with pytest.raises(InvalidMoneyError):
        Money(value, "EUR")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("raw", "currency"),
    [("10.123", "EUR"), ("0.001", "USD"), ("10.5", "JPY"), ("1.01", "JPY"), ("3.5", "KRW")],
)
def test_more_decimal_places_than_the_currency_has_are_refused(raw: str, currency: str) -> None:
    with pytest.raises(InvalidMoneyError, match="decimal places"):
        Money.of(raw, currency)


def test_trailing_zeros_beyond_the_scale_are_not_extra_places() -> None:
    assert str(Money.of("10.500000", "EUR").amount) == "10.50"
    assert str(Money.of("10.000", "JPY").amount) == "10"


def test_the_largest_amount_is_accepted_and_one_cent_more_is_refused() -> None:
    assert Money.of(str(MAX_AMOUNT), "EUR").amount == MAX_AMOUNT
    assert Money.of(f"-{MAX_AMOUNT}", "EUR").amount == -MAX_AMOUNT
    with pytest.raises(InvalidMoneyError, match="too large"):
        Money.of("10000000000.00", "EUR")
    with pytest.raises(InvalidMoneyError, match="too large"):
        Money.of("-10000000000", "EUR")
    with pytest.raises(InvalidMoneyError):
        Money.of("1e30", "USD")


def test_invalid_money_is_an_invalid_value_with_a_stable_code() -> None:
    with pytest.raises(InvalidMoneyError) as caught:
        Money.of("1.001", "EUR")

    assert caught.value.detail == str(caught.value) != ""  # the problem body's detail
    assert issubclass(InvalidMoneyError, InvalidValueError)
    assert InvalidMoneyError.code == "invalid_money"
    assert CurrencyMismatchError.code == "currency_mismatch"


def test_zero() -> None:
    zero = Money.zero("EUR")
    assert zero == Money.of("0", "EUR")
    assert str(zero.amount) == "0.00"
    assert not zero.is_positive
    assert str(Money.zero("JPY").amount) == "0"


def test_addition_and_subtraction_in_one_currency() -> None:
    total = Money.of("10.10", "EUR") + Money.of("0.90", "EUR")
    assert total == Money.of("11", "EUR")
    assert str(total.amount) == "11.00"
    assert Money.of("5", "EUR") - Money.of("7.5", "EUR") == Money.of("-2.50", "EUR")
    assert Money.of("0.1", "USD") + Money.of("0.2", "USD") == Money.of("0.3", "USD")  # no float


def test_arithmetic_results_stay_within_bounds() -> None:
    with pytest.raises(InvalidMoneyError):
        _ = Money.of(str(MAX_AMOUNT), "EUR") + Money.of("0.01", "EUR")


@pytest.mark.parametrize(
    "operation",
    [
        lambda a, b: a + b,
        lambda a, b: a - b,
        lambda a, b: a < b,
        lambda a, b: a <= b,
        lambda a, b: a > b,
        lambda a, b: a >= b,
    ],
)
def test_mixing_currencies_is_refused(operation: object) -> None:
    with pytest.raises(CurrencyMismatchError):
        operation(Money.of("1", "EUR"), Money.of("1", "USD"))  # type: ignore[operator]


def test_times() -> None:
    assert Money.of("2.50", "EUR").times(3) == Money.of("7.50", "EUR")
    assert str(Money.of("19.99", "USD").times(7).amount) == "139.93"
    assert Money.of("120", "JPY").times(0) == Money.zero("JPY")
    assert Money.of("1.99", "EUR").times(1).currency == "EUR"
    with pytest.raises(InvalidMoneyError, match="too large"):
        Money.of("9999999999", "EUR").times(2)


def test_ordering_within_one_currency() -> None:
    cheap, dear = Money.of("9.99", "EUR"), Money.of("10", "EUR")
    assert cheap < dear
    assert cheap <= dear
    assert dear > cheap
    assert dear >= cheap
    assert cheap <= Money.of("9.990", "EUR")
    assert dear >= Money.of("10.00", "EUR")
    assert not dear < cheap
    assert not cheap < Money.of("9.990", "EUR")
    assert not cheap > dear
    assert sorted([dear, cheap]) == [cheap, dear]
    assert max([cheap, dear]) == dear


def test_is_positive() -> None:
    assert Money.of("0.01", "EUR").is_positive
    assert not Money.of("0", "EUR").is_positive
    assert not Money.of("-1", "EUR").is_positive


def test_money_is_immutable() -> None:
    money = Money.of("1", "EUR")
    with pytest.raises(AttributeError):
        money.amount = Decimal(2)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("stored", "currency", "shown"),
    [
        ("12.5", "EUR", "12.50"),
        ("12.500000", "EUR", "12.50"),  # a column's wider scale is not shown
        ("1500.00", "JPY", "1500"),
        ("250.000000", "KRW", "250"),
        ("-3", "USD", "-3.00"),
        ("3.1", "XTS", "3.10"),  # a code the platform does not know: two places, as most have
    ],
)
def test_an_amount_read_from_storage_is_shown_at_its_currencys_scale_as_money_shows_it(
    stored: str, currency: str, shown: str
) -> None:
    assert format_amount(Decimal(stored), currency) == shown
    if currency != "XTS":
        assert str(Money(Decimal(stored), currency).amount) == shown
