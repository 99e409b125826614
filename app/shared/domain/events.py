"""Domain events: recorded by aggregates, stored in the outbox with the change that raised them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar
from uuid import UUID


@dataclass(frozen=True, kw_only=True)
class DomainEvent:
    """Base of every event. Subclasses are frozen dataclasses of JSON-friendly values."""

    aggregate_type: ClassVar[str] = "aggregate"

    aggregate_id: UUID
    occurred_at: datetime
    event_id: UUID = field(default_factory=uuid.uuid4)

    @classmethod
    def event_type(cls) -> str:
        """The stable name consumers subscribe to (the class name)."""
        return cls.__name__


class AggregateRoot:
    """Collects the events an aggregate raises until the unit of work takes them."""

    # Not a dataclass field and not mapped: instances loaded by the ORM skip __init__.
    _pending_events: list[DomainEvent]

    def record(self, event: DomainEvent) -> None:
        try:
            self._pending_events.append(event)
        except AttributeError:
            self._pending_events = [event]

    def pull_events(self) -> list[DomainEvent]:
        events = getattr(self, "_pending_events", [])
        self._pending_events = []
        return events
