"""The API's fast path: relay a commit's events right after the commit, off the request path.

Best effort by design: if the broker is down or the process dies first, the rows stay in the
outbox and the periodic sweep relays them. A failure opens a breaker for a few seconds, so an
outage costs each request nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from uuid import UUID

from structlog.stdlib import get_logger

from app.shared.infrastructure.breaker import CircuitBreaker
from app.shared.infrastructure.outbox_relay import OutboxRelay

_log = get_logger(__name__)


class OutboxFastPath:
    def __init__(self, relay: OutboxRelay, *, enabled: bool, breaker_seconds: float = 5.0) -> None:
        self._relay = relay
        self._enabled = enabled
        self._breaker = CircuitBreaker(breaker_seconds)
        self._running: set[asyncio.Task[None]] = set()

    def submit(self, event_ids: Sequence[UUID]) -> None:
        if not self._enabled or not event_ids or not self._breaker.closed:
            return
        task = asyncio.get_running_loop().create_task(self._relay_now(list(event_ids)))
        self._running.add(task)  # held until done: the loop keeps only weak references
        task.add_done_callback(self._running.discard)

    async def _relay_now(self, event_ids: list[UUID]) -> None:
        # Only a failure opens the breaker: events a sweep got to first are no failure.
        try:
            await self._relay.relay_events(event_ids)
        except Exception:  # noqa: BLE001 - the sweep will relay them
            self._breaker.open()
            _log.warning("outbox_fast_path_failed", events=len(event_ids), exc_info=True)

    async def drain(self) -> None:
        """Wait for relays in flight (on shutdown)."""
        if self._running:
            await asyncio.gather(*self._running, return_exceptions=True)
