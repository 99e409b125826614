from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from app.ordering.application.ports.sales_ledger import SalesLedger
from app.shared.application.ports import Clock, TransactionManager


@dataclass(frozen=True, slots=True, kw_only=True)
class RollUpDailySalesRequest:
    # Today and the days before it: yesterday is recomputed after midnight, so a change that
    # committed around midnight still lands in the right day.
    days_back: int = 1


class RollUpDailySales:
    """The beat job's use case: recompute the daily sales of the last few UTC days in one
    transaction. Figures are recomputed, not incremented, so a run repeated or retried cannot
    count anything twice."""

    def __init__(self, ledger: SalesLedger, transaction: TransactionManager, clock: Clock) -> None:
        self._ledger = ledger
        self._transaction = transaction
        self._clock = clock

    async def __call__(self, request: RollUpDailySalesRequest) -> int:
        today = self._clock.now().date()
        rows = 0
        for back in range(request.days_back, -1, -1):
            rows += await self._ledger.roll_up(today - timedelta(days=back))
        await self._transaction.commit()
        return rows
