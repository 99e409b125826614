"""Each documented pattern (app/shared/presentation/http/fields.py) says exactly what its value
object accepts: text the pattern matches is accepted, text it does not is refused. Hypothesis
draws both from the pattern itself and from arbitrary text, white space and look-alike letters
included (the Kelvin sign folds to "k", "ß" to "SS"). Each pattern means the same to Python's
``re`` and to the Rust validator schemathesis judges cases with (jsonschema_rs)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from uuid import UUID

import jsonschema_rs
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, TypeAdapter, ValidationError

from app.catalog.domain.product import ensure_price
from app.catalog.domain.value_objects import ProductName, Sku, StockChangeReason
from app.catalog.presentation.http.schemas import (
    AdjustStockBody,
    CreateProductBody,
    EditDetailsBody,
    PriceBody,
    RestockBody,
)
from app.identity.domain.value_objects import Email, RawPassword, Username
from app.shared.application.idempotency import IdempotencyKey
from app.shared.domain.errors import InvalidValueError
from app.shared.domain.money import Money
from app.shared.presentation.http import fields

Parse = Callable[[str], object]


def _new_password(raw: str) -> None:
    # Its length is Pydantic's (8 to 128) and its account another rule: the pattern says "not
    # only white space", so padding with white space leaves that question as it was.
    account = Username.parse("qz7"), Email.parse("qz7@example.test")
    RawPassword(raw[:120] + " " * 8).ensure_acceptable_for(*account)


CASES: list[tuple[str, str, Parse]] = [
    ("username", fields.USERNAME, Username.parse),
    ("email", fields.EMAIL, Email.parse),
    ("sku", fields.SKU, Sku.parse),
    ("currency", fields.CURRENCY, lambda raw: Money.of(Decimal(1), raw)),
    # Their length is Pydantic's, on the raw text: the pattern says everything else.
    ("product name", fields.TEXT, lambda raw: ProductName.parse(raw[: ProductName.MAX_LENGTH])),
    ("stock reason", fields.TEXT_3, lambda raw: StockChangeReason.parse(raw[:200])),
    ("new password", fields.NOT_BLANK, _new_password),
    # Its length is Pydantic's too (the header's maxLength).
    (
        "idempotency key",
        fields.IDEMPOTENCY_KEY,
        lambda raw: IdempotencyKey.for_request(
            owner=UUID(int=1), operation="test", key=raw[:255], request={}
        ),
    ),
]
# No lone surrogate: Pydantic refuses one before any value object sees it (tested below).
TRICKY = st.sampled_from(
    [" ", "\t", "\u3000", "\x1c", "\x1f", "\x85", "\u212a", "ß", "\u017f", ".", "-", "_", "@",
     "\x00", "\x7f", "\u200d", "a", "Z", "9", "\u0663", "EUR", "eur"]
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


@pytest.mark.parametrize(("name", "pattern", "parse"), CASES, ids=[c[0] for c in CASES])
@settings(SETTINGS, max_examples=100)
@given(data=st.data())
def test_the_rust_validator_reads_the_pattern_as_python_does(
    name: str, pattern: str, parse: Parse, data: st.DataObject
) -> None:
    raw = data.draw(
        st.one_of(
            st.from_regex(pattern, fullmatch=True),
            st.text(max_size=40),
            st.lists(TRICKY, max_size=8).map("".join),
        ),
        label=name,
    )
    rust = jsonschema_rs.validator_for({"type": "string", "pattern": pattern})
    assert rust.is_valid(raw) == (re.search(pattern, raw) is not None), raw


@pytest.mark.parametrize(
    ("model", "field", "valid"),
    [
        (CreateProductBody, "name", {"sku": "MUG-1", "price_amount": "1", "currency": "EUR"}),
        (EditDetailsBody, "name", {}),
        (RestockBody, "reason", {"quantity": 1}),
        (AdjustStockBody, "reason", {"delta": 1}),
    ],
)
def test_a_lone_surrogate_is_refused_before_any_value_object(
    model: type[BaseModel], field: str, valid: dict[str, object]
) -> None:
    # JSON can carry one ("\ud800"), and json.loads, which FastAPI parses bodies with, keeps it;
    # the text patterns say nothing of it, as JSON Schema's strings are Unicode text.
    body = json.loads(json.dumps({**valid, field: "ab\ud800c"}))
    with pytest.raises(ValidationError) as refused:
        model.model_validate(body)
    assert [error["type"] for error in refused.value.errors()] == ["string_unicode"]


@example(raw="a b")
@example(raw="ab")
@example(raw=" a  b ")
@given(raw=st.text(alphabet=" ab\t", max_size=6))
def test_a_reason_of_two_words_is_three_characters(raw: str) -> None:
    matched = re.fullmatch(fields.TEXT_3, raw) is not None
    assert matched == _accepted(StockChangeReason.parse, raw), raw


def test_json_integers_take_2_0_but_not_2_5_strings_or_booleans() -> None:
    adapter = TypeAdapter(fields.JsonInt)
    assert adapter.validate_python(2.0) == 2
    assert adapter.validate_json("2.0") == 2
    for bad in (2.5, "2", True):
        with pytest.raises(ValidationError):
            adapter.validate_python(bad)
    assert adapter.json_schema() == {"type": "integer"}


def _price_accepted(raw: str) -> bool:
    """What PUT .../price does with an amount: Pydantic's pattern, then Money and the price rule."""
    try:
        body = PriceBody.model_validate({"amount": raw, "currency": "EUR"})
        ensure_price(Money.of(body.amount, body.currency))
    except (ValidationError, InvalidValueError):
        return False
    return True


@example(raw="0")
@example(raw="0.00")
@example(raw="0.01")
@example(raw="00012.5")
@example(raw="9999999999.99")
@example(raw="1e3")
@example(raw="\u0661")  # an Arabic-Indic 1: a digit to Python, Rust and Decimal
@SETTINGS
@given(
    raw=st.one_of(
        st.from_regex(fields.AMOUNT, fullmatch=True),
        st.text(alphabet="0123456789.-+e \u0661", max_size=14),
    )
)
def test_a_price_is_accepted_exactly_when_its_schema_allows_it(raw: str) -> None:
    schema = PriceBody.model_json_schema()["properties"]["amount"]
    assert jsonschema_rs.validator_for(schema).is_valid(raw) == _price_accepted(raw), raw


@example(raw="0")
@example(raw="0.000001")
@example(raw="12.50")
@example(raw="1e3")
@example(raw="NaN")
@example(raw=" 5")
@example(raw="\u00b2")
@SETTINGS
@given(raw=st.text(alphabet="0123456789.-+eEaNn \u00b2\u0661", max_size=14))
def test_a_decimal_query_is_read_exactly_when_its_schema_allows_it(raw: str) -> None:
    adapter = TypeAdapter(fields.DecimalText)
    try:
        read = adapter.validate_python(raw)
    except ValidationError:
        read = None
    allowed = jsonschema_rs.validator_for(adapter.json_schema()).is_valid(raw)
    assert (read is not None) == allowed, raw
    assert read is None or read == Decimal(raw)


# RFC 3339 offsets: whole minutes, up to 14 hours either way.
OFFSETS = st.integers(-14 * 60, 14 * 60).map(lambda minutes: timezone(timedelta(minutes=minutes)))


@pytest.mark.parametrize(
    "raw",
    ["0", "0.5", "1700000000", "20240101", 86400, 0.5, "2024-01-01", "2024-01-01 10:00:00Z", ""],
)
def test_a_moment_is_text_with_a_date_and_a_time_never_seconds(raw: object) -> None:
    with pytest.raises(ValidationError):
        TypeAdapter(fields.IsoDateTime).validate_python(raw)


@pytest.mark.parametrize(
    "raw", ["0", "86400", 86400, "20240101", "2024-01-01T00:00:00", "2024-1-1"]
)
def test_a_day_is_an_iso_date_never_seconds(raw: object) -> None:
    with pytest.raises(ValidationError):
        TypeAdapter(fields.IsoDate).validate_python(raw)


@SETTINGS
@given(
    moment=st.datetimes(timezones=st.none() | OFFSETS).map(lambda moment: moment.replace(fold=0)),
    day=st.dates(),
)
def test_what_the_formats_allow_is_read_as_written(moment: datetime, day: date) -> None:
    # The schema says "date-time" (an offset is optional here: UTC without one) and "date".
    assert TypeAdapter(fields.IsoDateTime).validate_python(moment.isoformat()) == moment
    assert TypeAdapter(fields.IsoDate).validate_python(day.isoformat()) == day
    assert TypeAdapter(fields.IsoDateTime).json_schema() == {
        "type": "string",
        "format": "date-time",
    }
    assert TypeAdapter(fields.IsoDate).json_schema() == {"type": "string", "format": "date"}
