from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TypedDict

from app.ordering.application.day_range import ensure_day_range
from app.ordering.application.permissions import SEES_SALES
from app.ordering.application.ports.order_reader import OrderReader, SalesRow
from app.shared.application.actor import ActorProvider, require_role


@dataclass(frozen=True, slots=True, kw_only=True)
class SalesSummaryRequest:
    first_day: date
    last_day: date


class SalesSummaryResponse(TypedDict):
    first_day: date
    last_day: date
    rows: list[SalesRow]


class SalesSummary:
    """Admins: per UTC day and order status, the number of orders and the sum of their totals in
    each currency, for the days first_day..last_day (inclusive, at most 366 days). Revenue is
    management information, so staff (who fulfil orders) do not see it."""

    def __init__(self, actors: ActorProvider, reader: OrderReader) -> None:
        self._actors = actors
        self._reader = reader

    async def __call__(self, request: SalesSummaryRequest) -> SalesSummaryResponse:
        require_role(await self._actors.current(), SEES_SALES)
        ensure_day_range(request.first_day, request.last_day)
        rows = await self._reader.sales(first_day=request.first_day, last_day=request.last_day)
        return SalesSummaryResponse(
            first_day=request.first_day, last_day=request.last_day, rows=rows
        )
