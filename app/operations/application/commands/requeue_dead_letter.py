from __future__ import annotations

from dataclasses import dataclass
from typing import TypedDict
from uuid import UUID

from app.operations.application.errors import AlreadyRequeuedError, DeadLetterNotFoundError
from app.operations.application.ports.dead_letters import DeadLetterStore, TaskQueue
from app.shared.application.actor import ActorProvider, require_role
from app.shared.application.ports import Clock, TransactionManager
from app.shared.domain.role import Role


@dataclass(frozen=True, slots=True, kw_only=True)
class RequeueDeadLetterRequest:
    dead_letter_id: UUID


class RequeueDeadLetterResponse(TypedDict):
    task_id: str


class RequeueDeadLetter:
    """Admins send a dead task again, once (after fixing its cause). Handlers are idempotent, so
    a task that had in fact half-succeeded does no harm when it runs again."""

    def __init__(
        self,
        actors: ActorProvider,
        store: DeadLetterStore,
        queue: TaskQueue,
        transaction: TransactionManager,
        clock: Clock,
    ) -> None:
        self._actors = actors
        self._store = store
        self._queue = queue
        self._transaction = transaction
        self._clock = clock

    async def __call__(self, request: RequeueDeadLetterRequest) -> RequeueDeadLetterResponse:
        require_role(await self._actors.current(), Role.ADMIN)
        dead = await self._store.get(request.dead_letter_id, for_update=True)
        if dead is None:
            raise DeadLetterNotFoundError("No such dead letter.")
        if dead["requeued_at"] is not None:
            raise AlreadyRequeuedError(
                "This task was already sent again.", requeued_task_id=dead["requeued_task_id"]
            )
        task_id = await self._queue.send(dead["task_name"], dead["kwargs"])
        await self._store.mark_requeued(
            request.dead_letter_id, task_id=task_id, at=self._clock.now()
        )
        await self._transaction.commit()
        return RequeueDeadLetterResponse(task_id=task_id)
