from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from app.ordering.application.export_policy import ExportPolicy
from app.ordering.application.ports.order_exports import ExportFileStore, OrderExportRepository
from app.ordering.domain.order_export import INTERNAL_ERROR, ExportId
from app.shared.application.ports import Clock, TransactionManager


@dataclass(frozen=True, slots=True, kw_only=True)
class FailOrderExportRequest:
    export_id: UUID
    reason: str = INTERNAL_ERROR


class FailOrderExport:
    """The worker gave up on an export (a permanent error, or retries exhausted): say so in its
    status instead of leaving it "running" for ever, and drop the partial file."""

    def __init__(
        self,
        exports: OrderExportRepository,
        files: ExportFileStore,
        policy: ExportPolicy,
        transaction: TransactionManager,
        clock: Clock,
    ) -> None:
        self._exports = exports
        self._files = files
        self._policy = policy
        self._transaction = transaction
        self._clock = clock

    async def __call__(self, request: FailOrderExportRequest) -> None:
        export_id = ExportId(request.export_id)
        export = await self._exports.get(export_id, for_update=True)
        if export is None or export.status.is_finished:
            return
        export.fail(request.reason, at=self._clock.now(), keep_for=self._policy.retention)
        await self._files.discard(export_id)
        await self._transaction.commit()
