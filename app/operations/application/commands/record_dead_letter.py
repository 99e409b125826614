from __future__ import annotations

from app.operations.application.ports.dead_letters import DeadLetterStore, FailedTask
from app.shared.application.ports import Clock, TransactionManager


class RecordDeadLetter:
    """System use case: a task failed for good (a permanent error, or retries exhausted). Keep
    it, with its arguments and error, so an operator can see why and send it again."""

    def __init__(
        self, store: DeadLetterStore, transaction: TransactionManager, clock: Clock
    ) -> None:
        self._store = store
        self._transaction = transaction
        self._clock = clock

    async def __call__(self, failed: FailedTask) -> str:
        dead_letter_id = await self._store.record(failed, at=self._clock.now())
        await self._transaction.commit()
        return str(dead_letter_id)
