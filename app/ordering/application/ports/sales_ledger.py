from __future__ import annotations

from datetime import date, datetime
from typing import Protocol, TypedDict


class SalesLedger(Protocol):
    """Command side of the daily sales summary."""

    async def roll_up(self, day: date) -> int:
        """Recompute one UTC day's figures from the orders (idempotent); the number of
        currencies that had activity that day."""
        ...


class DailySalesRow(TypedDict):
    day: date
    currency: str
    orders_placed: int
    orders_paid: int
    revenue: str  # totals of the orders paid that day
    refunds: int  # paid orders cancelled that day
    refunded: str
    net: str  # revenue - refunded
    rolled_up_at: datetime


class DailySalesReader(Protocol):
    async def days(self, *, first_day: date, last_day: date) -> list[DailySalesRow]:
        """Rolled-up days in the range, by day then currency; days without activity (or not
        rolled up yet) have no rows."""
        ...
