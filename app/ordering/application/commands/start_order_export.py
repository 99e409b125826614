from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from app.ordering.application.day_range import ensure_day_range
from app.ordering.application.export_permissions import EXPORTS_ORDERS
from app.ordering.application.export_policy import ExportPolicy
from app.ordering.application.export_view import export_view
from app.ordering.application.ports.order_exports import OrderExportRepository, OrderExportView
from app.ordering.domain.errors import TooManyExportsError
from app.ordering.domain.order_export import ExportId, OrderExport
from app.shared.application.actor import ActorProvider, require_role
from app.shared.application.ports import Clock, TransactionManager


@dataclass(frozen=True, slots=True, kw_only=True)
class StartOrderExportRequest:
    first_day: date
    last_day: date


class StartOrderExport:
    """Staff ask for a CSV of the orders placed on first_day..last_day (UTC days, at most 366),
    with at most policy.max_unfinished of their exports queued or running (409 otherwise).
    The export is queued in the same transaction as its OrderExportRequested event, so the
    worker is sure to hear of it (outbox); the caller polls the status until it completes."""

    def __init__(
        self,
        actors: ActorProvider,
        exports: OrderExportRepository,
        policy: ExportPolicy,
        transaction: TransactionManager,
        clock: Clock,
    ) -> None:
        self._actors = actors
        self._exports = exports
        self._policy = policy
        self._transaction = transaction
        self._clock = clock

    async def __call__(self, request: StartOrderExportRequest) -> OrderExportView:
        actor = await self._actors.current()
        require_role(actor, EXPORTS_ORDERS)
        ensure_day_range(request.first_day, request.last_day)
        # Exports are heavy: a few at a time per person, so one click-happy user cannot fill
        # the exports queue for everyone.
        unfinished = await self._exports.count_unfinished(actor.user_id)
        if unfinished >= self._policy.max_unfinished:
            raise TooManyExportsError(
                f"You have {unfinished} exports queued or running; wait for one to finish or "
                "cancel one.",
                max_unfinished=self._policy.max_unfinished,
            )
        export = OrderExport.request(
            export_id=ExportId(uuid.uuid4()),
            requested_by=actor.user_id,
            first_day=request.first_day,
            last_day=request.last_day,
            at=self._clock.now(),
        )
        self._exports.add(export)
        await self._transaction.commit()
        return export_view(export)
