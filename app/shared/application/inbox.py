"""Exactly-once side effects for at-least-once delivery: an inbox of handled events."""

from __future__ import annotations

from typing import Protocol
from uuid import UUID


class EventInbox(Protocol):
    async def first_delivery(self, handler: str, event_id: UUID) -> bool:
        """Record that ``handler`` is handling ``event_id`` in this unit of work.

        True the first time; False when an earlier delivery committed (do nothing). A concurrent
        delivery of the same event waits here until the first one commits or rolls back.
        """
        ...
