from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from app.ordering.application.ports.order_exports import OrderExportRepository
from app.shared.application.ports import TransactionManager


@dataclass(frozen=True, slots=True, kw_only=True)
class PurgeOrderExportsRequest:
    retention: timedelta


class PurgeOrderExports:
    """Exports do not stay for ever: an expired export goes with its file, and one that never
    finished (its worker gave up without a word) goes once the retention has passed."""

    def __init__(self, exports: OrderExportRepository, transaction: TransactionManager) -> None:
        self._exports = exports
        self._transaction = transaction

    async def __call__(self, request: PurgeOrderExportsRequest) -> int:
        removed = await self._exports.delete_expired(request.retention)
        await self._transaction.commit()
        return removed
