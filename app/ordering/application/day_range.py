"""Ranges of whole UTC days, as the sales summary and exports take them."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Final

from app.ordering.application.errors import InvalidDateRangeError

MAX_DAYS: Final = 366


def ensure_day_range(first_day: date, last_day: date) -> None:
    days = (last_day - first_day).days + 1
    # date.max is refused too: the range ends at the start of the following day.
    if not 1 <= days <= MAX_DAYS or last_day >= date.max:
        raise InvalidDateRangeError(
            f"The range runs forwards and spans 1 to {MAX_DAYS} days.",
            first_day=first_day.isoformat(),
            last_day=last_day.isoformat(),
        )


def instants(first_day: date, last_day: date) -> tuple[datetime, datetime]:
    """The range as [start, end) instants: an index on a timestamp column serves it."""
    start = datetime.combine(first_day, time.min, tzinfo=UTC)
    return start, datetime.combine(last_day + timedelta(days=1), time.min, tzinfo=UTC)
