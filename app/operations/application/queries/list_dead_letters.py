from __future__ import annotations

from dataclasses import dataclass

from app.operations.application.ports.dead_letters import DeadLetterStore, DeadLetterView
from app.shared.application.actor import ActorProvider, require_role
from app.shared.application.pagination import Page
from app.shared.domain.role import Role


@dataclass(frozen=True, slots=True, kw_only=True)
class ListDeadLettersRequest:
    pending_only: bool = True
    limit: int = 50
    cursor: str | None = None


class ListDeadLetters:
    """Admins see tasks that failed for good, newest first (by default only those not yet
    sent again)."""

    MAX_LIMIT = 200

    def __init__(self, actors: ActorProvider, store: DeadLetterStore) -> None:
        self._actors = actors
        self._store = store

    async def __call__(self, request: ListDeadLettersRequest) -> Page[DeadLetterView]:
        require_role(await self._actors.current(), Role.ADMIN)
        return await self._store.list(
            pending_only=request.pending_only,
            limit=max(1, min(request.limit, self.MAX_LIMIT)),
            cursor=request.cursor,
        )
