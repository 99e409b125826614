"""Which handler tasks each event type fans out to: the outbox relay's routing table."""

from __future__ import annotations

from typing import Final

from app.notifications.presentation.tasks import EVENT_HANDLERS as NOTIFICATION_HANDLERS
from app.ordering.presentation.export_tasks import EVENT_HANDLERS as ORDERING_HANDLERS


def _merge(*tables: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    merged: dict[str, tuple[str, ...]] = {}
    for table in tables:
        for event_type, handlers in table.items():
            merged[event_type] = (*merged.get(event_type, ()), *handlers)
    return merged


EVENT_HANDLERS: Final = _merge(NOTIFICATION_HANDLERS, ORDERING_HANDLERS)
