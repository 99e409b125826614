from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from app.ordering.application.day_range import ensure_day_range
from app.ordering.application.permissions import SEES_SALES
from app.ordering.application.ports.sales_ledger import DailySalesReader, DailySalesRow
from app.shared.application.actor import ActorProvider, require_role


@dataclass(frozen=True, slots=True, kw_only=True)
class DailySalesRequest:
    first_day: date
    last_day: date


class DailySales:
    """Admins: the rolled-up daily sales (placed, paid, refunded per UTC day and currency), as
    of the last roll-up. A cheap read, unlike the live sales summary."""

    def __init__(self, actors: ActorProvider, reader: DailySalesReader) -> None:
        self._actors = actors
        self._reader = reader

    async def __call__(self, request: DailySalesRequest) -> list[DailySalesRow]:
        require_role(await self._actors.current(), SEES_SALES)
        ensure_day_range(request.first_day, request.last_day)
        return await self._reader.days(first_day=request.first_day, last_day=request.last_day)
