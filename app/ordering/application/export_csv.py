"""The CSV format of order exports: RFC 4180, UTF-8, one row per order, times in ISO 8601 UTC."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Final

from app.ordering.application.ports.order_exports import ExportRow

HEADER: Final = (
    "order_id",
    "placed_at",
    "customer_id",
    "status",
    "currency",
    "total_amount",
    "line_count",
    "item_count",
    "paid_at",
    "payment_reference",
    "shipped_at",
    "delivered_at",
    "cancelled_at",
    "cancellation_reason",
)
# A cell starting with one of these is a formula to a spreadsheet (CSV injection, OWASP): free
# text gets a leading apostrophe so it is shown, never evaluated.
_FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r")


def render(rows: Sequence[ExportRow], *, header: bool) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    if header:
        writer.writerow(HEADER)
    writer.writerows(
        (
            row["order_id"],
            _instant(row["placed_at"]),
            row["customer_id"],
            row["status"],
            row["currency"],
            row["total_amount"],
            row["line_count"],
            row["item_count"],
            _instant(row["paid_at"]),
            _text(row["payment_reference"]),
            _instant(row["shipped_at"]),
            _instant(row["delivered_at"]),
            _instant(row["cancelled_at"]),
            _text(row["cancellation_reason"]),
        )
        for row in rows
    )
    return buffer.getvalue().encode()


def _instant(value: datetime | None) -> str:
    return "" if value is None else value.astimezone(UTC).isoformat()


def _text(value: str | None) -> str:
    if value is None:
        return ""
    return "'" + value if value.startswith(_FORMULA_STARTS) else value
