"""Each documented pattern (app/shared/presentation/http/fields.py) says exactly what its value
object accepts: text the pattern matches is accepted, text it does not is refused. Hypothesis
draws both from the pattern itself and from arbitrary text, white space and look-alike letters
included (the Kelvin sign folds to "k", "ß" to "SS")."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from app.catalog.domain.value_objects import ProductName, Sku, StockChangeReason
from app.identity.domain.value_objects import Email, Username
from app.shared.domain.errors import InvalidValueError
from app.shared.domain.money import Money
from app.shared.presentation.http import fields

Parse = Callable[[str], object]
CASES: list[tuple[str, str, Parse]] = [
    ("username", fields.USERNAME, Username.parse),
    ("email", fields.EMAIL, Email.parse),
    ("sku", fields.SKU, Sku.parse),
    ("currency", fields.CURRENCY, lambda raw: Money.of(Decimal(1), raw)),
    # Their length is Pydantic's, on the raw text: the pattern says everything else.
    ("product name", fields.TEXT, lambda raw: ProductName.parse(raw[: ProductName.MAX_LENGTH])),
    ("stock reason", fields.TEXT_3, lambda raw: StockChangeReason.parse(raw[:200])),
]
TRICKY = st.sampled_from(
    [" ", "\t", "\u3000", "\x1c", "\x85", "\u212a", "ß", "\u017f", ".", "-", "_", "@", "\x00",
     "\x7f", "\u200d", "a", "Z", "9", "EUR", "eur", "\ud800"]
)  # fmt: skip
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _accepted(parse: Parse, raw: str) -> bool:
    try:
        parse(raw)
    except InvalidValueError:
        return False
    return True


@pytest.mark.parametrize(("name", "pattern", "parse"), CASES, ids=[c[0] for c in CASES])
@SETTINGS
@given(data=st.data())
def test_what_the_pattern_matches_is_accepted(
    name: str, pattern: str, parse: Parse, data: st.DataObject
) -> None:
    raw = data.draw(st.from_regex(pattern, fullmatch=True), label=name)
    assert _accepted(parse, raw), raw


@pytest.mark.parametrize(("name", "pattern", "parse"), CASES, ids=[c[0] for c in CASES])
@SETTINGS
@given(data=st.data())
def test_what_the_pattern_refuses_is_refused(
    name: str, pattern: str, parse: Parse, data: st.DataObject
) -> None:
    raw = data.draw(
        st.one_of(st.text(max_size=40), st.lists(TRICKY, max_size=8).map("".join)), label=name
    )
    assert (re.fullmatch(pattern, raw) is not None) == _accepted(parse, raw), raw


@example(raw="a b")
@example(raw="ab")
@example(raw=" a  b ")
@given(raw=st.text(alphabet=" ab\t", max_size=6))
def test_a_reason_of_two_words_is_three_characters(raw: str) -> None:
    matched = re.fullmatch(fields.TEXT_3, raw) is not None
    assert matched == _accepted(StockChangeReason.parse, raw), raw


def test_json_integers_take_2_0_but_not_2_5_strings_or_booleans() -> None:
    from pydantic import TypeAdapter, ValidationError  # noqa: PLC0415

    adapter = TypeAdapter(fields.JsonInt)
    assert adapter.validate_python(2.0) == 2
    assert adapter.validate_json("2.0") == 2
    for bad in (2.5, "2", True):
        with pytest.raises(ValidationError):
            adapter.validate_python(bad)
    assert adapter.json_schema() == {"type": "integer"}
