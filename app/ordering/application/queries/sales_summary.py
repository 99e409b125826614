from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Final, TypedDict

from app.ordering.application.errors import InvalidDateRangeError
from app.ordering.application.permissions import SEES_SALES
from app.ordering.application.ports.order_reader import OrderReader, SalesRow
from app.shared.application.actor import ActorProvider, require_role

MAX_DAYS: Final = 366


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
        days = (request.last_day - request.first_day).days + 1
        # date.max is refused too: the range ends at the start of the following day.
        if not 1 <= days <= MAX_DAYS or request.last_day >= date.max:
            raise InvalidDateRangeError(
                f"The range runs forwards and spans 1 to {MAX_DAYS} days.",
                first_day=request.first_day.isoformat(),
                last_day=request.last_day.isoformat(),
            )
        rows = await self._reader.sales(first_day=request.first_day, last_day=request.last_day)
        return SalesSummaryResponse(
            first_day=request.first_day, last_day=request.last_day, rows=rows
        )
