from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from app.ordering.application.ports.order_exports import OrderExportRepository
from app.ordering.domain.order_export import ExportId
from app.shared.application.ports import Clock, TransactionManager


@dataclass(frozen=True, slots=True, kw_only=True)
class HandOverOrderExportRequest:
    export_id: UUID


class HandOverOrderExport:
    """The worker's task used up its slice: record OrderExportContinued, which the outbox relays
    to a fresh task. Through the outbox, not a direct publish, so a broker that is down at that
    moment delays the export instead of stranding it "running". A second task for the same
    export (say, a redelivery as well) is harmless: steps take the export's row lock in turn."""

    def __init__(
        self, exports: OrderExportRepository, transaction: TransactionManager, clock: Clock
    ) -> None:
        self._exports = exports
        self._transaction = transaction
        self._clock = clock

    async def __call__(self, request: HandOverOrderExportRequest) -> None:
        export = await self._exports.get(ExportId(request.export_id), for_update=True)
        if export is None:
            return
        export.hand_over(at=self._clock.now())
        await self._transaction.commit()
