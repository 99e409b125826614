"""The background side of identity: its step of the purge."""

from __future__ import annotations

from datetime import timedelta
from typing import Final

from dishka import AsyncContainer

from app.identity.application.ports.auth import SessionStore
from app.shared.presentation.background import BackgroundSide, PurgeStep


async def prune_session_index(scope: AsyncContainer, _: timedelta) -> int:
    """Each user's index of sessions keeps the ids of sessions that expired on their own (Redis
    dropped the session, not its index entry): remove them."""
    sessions: SessionStore = await scope.get(SessionStore)
    return await sessions.prune()


side: Final = BackgroundSide(
    context="identity",
    purge_steps=(PurgeStep("session_index_entries", prune_session_index),),
)
