"""Ports every context uses: transactions and time."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol


class TransactionManager(Protocol):
    async def flush(self) -> None:
        """Send pending changes so constraint violations surface as domain errors now."""

    async def commit(self) -> None:
        """Make the unit of work durable."""


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
