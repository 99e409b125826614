"""What the fuzzer must know that an OpenAPI schema cannot say (loaded by schemathesis through
SCHEMATHESIS_HOOKS; ``make fuzz``).

- A cursor is opaque: only one the API returned is valid, and a forged one is a 422
  (tests/integration/test_products_queries.py replays those). Cases that invent one are dropped.
- A date range runs forwards and spans at most 366 days: a rule between two fields, which JSON
  Schema cannot state. Cases outside it are dropped here; tests/integration cover the 422s.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import schemathesis

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


@schemathesis.hook
def filter_query(context: schemathesis.HookContext, query: dict[str, Any] | None) -> bool:
    return not (query and "cursor" in query) and _forwards(query)


@schemathesis.hook
def filter_body(context: schemathesis.HookContext, body: Any) -> bool:
    return _forwards(body) if isinstance(body, dict) else True
