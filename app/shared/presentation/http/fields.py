"""Input fields whose OpenAPI schema says exactly what the server accepts.

A client (or a fuzzer) that sends what the schema allows must not meet a 422 from a rule the
schema does not state, and what it forbids must be refused. The domain's value objects enforce
these rules, with their own error codes (``invalid_username``, ``invalid_sku``, ...); the patterns
here state the same rules for the schema (``documented``), and Pydantic does not apply them a
second time. The value objects normalise before they validate (white space around is stripped,
case folded, inner runs of white space collapsed), so the patterns admit exactly the raw text that
normalises to a valid value: white space around, either case. tests/unit/test_http_fields.py
holds each pattern against its value object, both ways, with generated text.

The patterns mean the same in Python's ``re`` (what schemathesis and Hypothesis generate from)
and in the Rust and ECMAScript dialects that JSON Schema validators use (schemathesis decides
with one whether a case is valid). So ``\\s``, ``\\d`` and ``\\w``, whose meanings differ between
them, are spelled out as classes; white space is what ``str.strip`` and ``str.split`` remove. A
lone surrogate (``"\\ud800"``) never reaches these rules: Pydantic refuses it in a string field
with a length bound (``string_unicode``), and each text field has one.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Final

from pydantic import BeforeValidator, Field, PlainValidator, WithJsonSchema

from app.shared.domain.money import MINOR_UNITS


def documented(pattern: str) -> dict[str, Any]:
    """``json_schema_extra`` for a field whose pattern the domain enforces."""
    return {"pattern": pattern}


def _either_case(word: str) -> str:
    return "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else c for c in word)


# White space as str.isspace() sees it (\x1c to \x1f included, which Rust's \s leaves out).
_SPACES: Final = r"\t\n\x0b\x0c\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
SPACE: Final = f"[{_SPACES}]"
VISIBLE: Final = f"[^{_SPACES}]"
ANY: Final = r"[\s\S]"


def trimmed(core: str) -> str:
    """A pattern for ``core`` with any white space around it (``str.strip``)."""
    return f"^{SPACE}*{core}{SPACE}*$"


# Identity: Username (3 to 32 of a-z, 0-9 and single inner '.', '_' or '-'), folded to lower case.
USERNAME: Final = trimmed(r"[A-Za-z0-9](?:[A-Za-z0-9]|[._-](?=[A-Za-z0-9])){2,31}")
# Identity: Email, folded to lower case: a dot-atom local part of 1 to 64 characters, LDH domain
# labels, a top-level label that starts with a letter. Its 254 characters are the field's
# max_length (Pydantic's, on the raw text).
_LOCAL_CHAR: Final = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_LABEL: Final = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
EMAIL: Final = trimmed(
    rf"{_LOCAL_CHAR}(?:{_LOCAL_CHAR}|\.(?={_LOCAL_CHAR})){{0,63}}"
    rf"@(?:{_LABEL}\.)+[A-Za-z](?:[A-Za-z0-9-]{{0,61}}[A-Za-z0-9])?"
)
# Catalog: Sku (3 to 32 of A-Z, 0-9 and single inner dashes), folded to upper case.
SKU: Final = trimmed(r"[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){2,31}")
# Money: the ISO 4217 codes the platform supports, in either case.
CURRENCY: Final = trimmed(
    "(?:" + "|".join(_either_case(code) for code in sorted(MINOR_UNITS)) + ")"
)
# Text a person types: no control character other than white space, and something besides white
# space. (Lone surrogates, which cannot be stored either, never get this far: see above.) Said
# without look-ahead, by where the first visible character stands: a generator then builds a
# text of a given length at once, where a look-ahead made it draw and discard (a 200-character
# name took schemathesis seconds).
_CONTROLS: Final = r"\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f"
_TEXT_CHAR: Final = f"[^{_CONTROLS}]"
_VISIBLE_TEXT: Final = f"[^{_CONTROLS}{_SPACES}]"
TEXT: Final = f"^{SPACE}*{_VISIBLE_TEXT}{_TEXT_CHAR}*$"
# Text of three characters at least once white space is collapsed (a stock change's reason):
# three visible ones, or two words ("a b").
TEXT_3: Final = (
    f"^(?:{SPACE}*{_VISIBLE_TEXT}(?:{SPACE}*{_VISIBLE_TEXT}){{2}}"
    f"|{SPACE}*{_VISIBLE_TEXT}+{SPACE}+{_VISIBLE_TEXT}){_TEXT_CHAR}*$"
)
# A new password: not only white space.
NOT_BLANK: Final = f"^{SPACE}*{VISIBLE}{ANY}*$"
NO_NUL: Final = r"^[^\x00]*$"
# An Idempotency-Key (IdempotencyKey.for_request): visible ASCII, with spaces between.
IDEMPOTENCY_KEY: Final = r"^[!-~](?:[ -~]*[!-~])?$"
# An amount of money as it travels: ASCII digits (Python, Rust and Decimal take other scripts'
# digits as \d, ECMAScript does not), at most 10 before the point and 2 after it.
AMOUNT: Final = r"^[0-9]{1,10}(?:\.[0-9]{1,2})?$"
# A price is also more than zero, said with "not": Pydantic's regex engine has no look-ahead.
NOT_ZERO: Final[dict[str, Any]] = {"not": {"pattern": r"^[0.]*$"}}
# A bound on amounts (a price filter): as AMOUNT, at any precision.
DECIMAL: Final = r"^[0-9]{1,10}(?:\.[0-9]+)?$"


def _integral(value: Any) -> Any:  # noqa: ANN401 - whatever JSON brought
    """2.0 is an integer in JSON Schema; 2.5, "2" and true are not."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# A JSON integer: strict (no strings, no booleans), but 2.0 counts, as JSON Schema says.
JsonInt = Annotated[int, BeforeValidator(_integral), Field(strict=True)]


def _decimal_text(value: Any) -> Decimal:  # noqa: ANN401 - whatever the query string brought
    if isinstance(value, str) and re.fullmatch(DECIMAL, value):
        return Decimal(value)
    raise ValueError("a decimal such as 12.50, with up to 10 digits before the point")


# A calendar day and a moment as JSON Schema's "date" and "date-time" formats spell them, not as
# the numbers of seconds Pydantic would also read ("20240101" was 1970-08-23T06:15:01Z). A moment
# may leave out its offset (then it is UTC) or its seconds; the rest is Pydantic's to parse.
_FULL_DATE: Final = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
_DATE_TIME_START: Final = rf"{_FULL_DATE}[Tt][0-9]{{2}}:[0-9]{{2}}"


def _date_text(value: Any) -> Any:  # noqa: ANN401 - whatever JSON or the query string brought
    if isinstance(value, date) or (isinstance(value, str) and re.fullmatch(_FULL_DATE, value)):
        return value
    raise ValueError("a date such as 2026-11-30")


def _date_time_text(value: Any) -> Any:  # noqa: ANN401 - whatever JSON or the query string brought
    if isinstance(value, date) or (isinstance(value, str) and re.match(_DATE_TIME_START, value)):
        return value
    raise ValueError("a date and time such as 2026-11-30T12:00:00Z (UTC when without an offset)")


IsoDate = Annotated[date, BeforeValidator(_date_text)]
IsoDateTime = Annotated[datetime, BeforeValidator(_date_time_text)]


# A decimal in a query string, as DECIMAL says: not "1e3", "NaN", " 5" or "²", which Decimal
# would otherwise read (or fail on with an error the schema did not announce).
DecimalText = Annotated[
    Decimal, PlainValidator(_decimal_text), WithJsonSchema({"type": "string", "pattern": DECIMAL})
]
