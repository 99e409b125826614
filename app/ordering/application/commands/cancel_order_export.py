from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from app.ordering.application.export_permissions import export_not_found, visible_export
from app.ordering.application.export_policy import ExportPolicy
from app.ordering.application.export_view import export_view
from app.ordering.application.ports.order_exports import (
    ExportFileStore,
    OrderExportRepository,
    OrderExportView,
)
from app.ordering.domain.order_export import ExportId
from app.shared.application.actor import ActorProvider
from app.shared.application.ports import Clock, TransactionManager


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelOrderExportRequest:
    export_id: UUID


class CancelOrderExport:
    """Stop a queued or running export and drop what it wrote. The export's row lock makes the
    worker finish its current chunk first; it sees the cancellation before the next one.
    Cancelling twice is harmless; a completed or failed export answers 409."""

    def __init__(
        self,
        actors: ActorProvider,
        exports: OrderExportRepository,
        files: ExportFileStore,
        policy: ExportPolicy,
        transaction: TransactionManager,
        clock: Clock,
    ) -> None:
        self._actors = actors
        self._exports = exports
        self._files = files
        self._policy = policy
        self._transaction = transaction
        self._clock = clock

    async def __call__(self, request: CancelOrderExportRequest) -> OrderExportView:
        actor = await self._actors.current()
        export_id = ExportId(request.export_id)
        # Who may see it first, then the lock: nobody else's call holds someone's export.
        visible_export(actor, await self._exports.get(export_id), export_id)
        export = await self._exports.get(export_id, for_update=True)
        if export is None:  # purged in between
            raise export_not_found(export_id)
        if export.cancel(at=self._clock.now(), keep_for=self._policy.retention):
            await self._files.discard(export_id)
            await self._transaction.commit()
        return export_view(export)
