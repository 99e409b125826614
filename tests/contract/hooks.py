"""What the fuzzer must know that an OpenAPI schema cannot say (``make fuzz``; schemathesis loads
this module as tests/contract/schemathesis.toml says).

- A cursor is opaque: only one the API returned is valid, and a forged one is a 422
  (tests/integration/test_products_queries.py replays those). Cases that send one are dropped:
  taking the cursor out instead turned a case meant to break the schema with its cursor into a
  valid request, which the server rightly accepted and schemathesis reported.
- A date range runs forwards and spans at most 366 days; a price filter's minimum is not above its
  maximum; an amount in yen or won has no decimals; a new password does not contain the username
  or the e-mail address; a product listed on two lines of an order is one line of their summed
  quantity, 1000 at most. Each is a rule between two fields, which JSON Schema cannot state:
  cases that break one are dropped here, and tests/integration cover their 422s.
- An Idempotency-Key names one request: the same key with another request is a 422
  idempotency_key_reused, as the IETF draft on the header says. A client retries a request with
  its key and picks a new key for a new request, so a valid key a case carries is replaced by a
  digest of the request: the same request replays, another gets another key
  (tests/integration/test_orders_idempotency.py covers the 422).
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import schemathesis

from app.ordering.domain.value_objects import MAX_QUANTITY
from app.shared.application.idempotency import IdempotencyKey
from app.shared.domain.money import MINOR_UNITS
from app.shared.presentation.http.fields import IDEMPOTENCY_KEY

MAX_RANGE_DAYS = 366
RANGES = (("from", "to"), ("created_from", "created_to"), ("first_day", "last_day"))


def _forwards(values: dict[str, Any] | None) -> bool:
    for first, last in RANGES:
        if not values or first not in values or last not in values:
            continue
        try:
            start, end = _when(values[first]), _when(values[last])
            backwards = end <= start or (end - start).days > MAX_RANGE_DAYS
        except (TypeError, ValueError):
            continue  # not dates, or naive against aware: the schema's own cases decide
        if backwards:
            return False
    return True


def _when(value: object) -> date | datetime:
    text = str(value)
    return datetime.fromisoformat(text) if "T" in text else date.fromisoformat(text)


def _price_range(query: dict[str, Any] | None) -> bool:
    if not query or query.get("min_price") is None or query.get("max_price") is None:
        return True
    try:
        return Decimal(str(query["min_price"])) <= Decimal(str(query["max_price"]))
    except InvalidOperation:
        return True  # not decimals: the schema's own cases decide


@schemathesis.hook
def filter_query(context: schemathesis.HookContext, query: dict[str, Any] | None) -> bool:
    without_cursor = not query or query.get("cursor") is None
    return without_cursor and _forwards(query) and _price_range(query)


# Currencies without minor units: "12.50" JPY is refused, a rule between two fields.
WHOLE_CURRENCIES = frozenset(code for code, places in MINOR_UNITS.items() if places == 0)


def _whole_amounts(body: dict[str, Any]) -> bool:
    currency = str(body.get("currency", "")).strip().upper()
    amount = str(body.get("price_amount", body.get("amount", "")))
    return not (currency in WHOLE_CURRENCIES and "." in amount)


def _unrelated_password(body: dict[str, Any]) -> bool:
    """A new password must not contain the username, the e-mail or its local part."""
    password = str(body.get("password", "")).casefold()
    names = [str(body.get("username", "")).strip(), str(body.get("email", "")).strip()]
    names.append(names[1].rpartition("@")[0])
    return not any(len(name) >= 3 and name.casefold() in password for name in names)


def _merged_lines_in_bounds(body: dict[str, Any]) -> bool:
    """Lines for one product merge into one line, which holds at most MAX_QUANTITY units."""
    lines = body.get("lines")
    if not isinstance(lines, list):
        return True
    merged: dict[str, int] = {}
    for line in lines:
        if not isinstance(line, dict) or not isinstance(line.get("quantity"), int | float):
            return True  # not the schema's lines: its own cases decide
        product = str(line.get("product_id"))
        merged[product] = merged.get(product, 0) + int(line["quantity"])
    return all(total <= MAX_QUANTITY for total in merged.values())


@schemathesis.hook
def filter_body(context: schemathesis.HookContext, body: Any) -> bool:
    if not isinstance(body, dict):
        return True
    return (
        _forwards(body)
        and _whole_amounts(body)
        and _unrelated_password(body)
        and _merged_lines_in_bounds(body)
    )


@schemathesis.hook
def map_case(
    context: schemathesis.HookContext, case: schemathesis.Case[Any]
) -> schemathesis.Case[Any]:
    key = case.headers.get("Idempotency-Key") if case.headers else None
    valid = (
        isinstance(key, str)
        and len(key) <= IdempotencyKey.MAX_LENGTH
        and re.fullmatch(IDEMPOTENCY_KEY, key) is not None
    )
    if valid:  # an invalid key is the case's point: it stays
        request = [case.method, case.path, case.path_parameters, case.query, case.body]
        text = json.dumps(request, sort_keys=True, default=repr)
        case.headers["Idempotency-Key"] = hashlib.sha256(text.encode()).hexdigest()
    return case
