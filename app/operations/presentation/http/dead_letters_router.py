"""HTTP routes. No `from __future__ import annotations` here: FastAPI reads the annotations of
Dishka's injection wrapper, which cannot resolve postponed (string) annotations."""

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from dishka.integrations.fastapi import FromDishka
from fastapi import Depends, Query, status
from pydantic import BaseModel

from app.operations.application.commands.requeue_dead_letter import (
    RequeueDeadLetter,
    RequeueDeadLetterRequest,
)
from app.operations.application.queries.list_dead_letters import (
    ListDeadLetters,
    ListDeadLettersRequest,
)
from app.shared.presentation.http.bearer import oauth2_scheme
from app.shared.presentation.http.openapi import problems
from app.shared.presentation.http.pages import PageOut
from app.shared.presentation.http.routing import PrefixedRouter

router = PrefixedRouter(prefix="/api/v1/admin/dead-letters", tags=["operations"])
_bearer = [Depends(oauth2_scheme)]


class DeadLetterOut(BaseModel):
    id: UUID
    task_id: str
    task_name: str
    # The task's keyword arguments ("kwargs" in Celery's terms).
    arguments: dict[str, Any]
    error_type: str
    error_message: str
    retries: int
    failed_at: datetime
    requeued_at: datetime | None
    requeued_task_id: str | None


class DeadLetterPageOut(PageOut[DeadLetterOut]):
    pass


class RequeuedOut(BaseModel):
    task_id: str


@router.get("", responses=problems(401, 403), dependencies=_bearer)
async def list_dead_letters(
    interactor: FromDishka[ListDeadLetters],
    pending_only: bool = True,  # noqa: FBT001, FBT002 - a query flag
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> DeadLetterPageOut:
    """Admins: background tasks that failed for good, newest first."""
    page = await interactor(
        ListDeadLettersRequest(pending_only=pending_only, limit=limit, cursor=cursor)
    )
    return DeadLetterPageOut(
        items=[
            DeadLetterOut.model_validate({**item, "arguments": item["kwargs"]})
            for item in page["items"]
        ],
        next_cursor=page["next_cursor"],
    )


@router.post(
    "/{dead_letter_id}/requeue",
    status_code=status.HTTP_202_ACCEPTED,
    responses=problems(401, 403, 404, 409),
    dependencies=_bearer,
)
async def requeue_dead_letter(
    dead_letter_id: UUID, interactor: FromDishka[RequeueDeadLetter]
) -> RequeuedOut:
    """Admins: send a dead task again (once)."""
    result = await interactor(RequeueDeadLetterRequest(dead_letter_id=dead_letter_id))
    return RequeuedOut.model_validate(result)
