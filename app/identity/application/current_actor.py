from __future__ import annotations

from app.identity.application.current_user import CurrentUser
from app.identity.application.ports.auth import IdentityProvider
from app.shared.application.actor import Actor


class CurrentActor:
    """Identity's implementation of the shared ActorProvider port, for the other contexts."""

    def __init__(self, identity: IdentityProvider, current_user: CurrentUser) -> None:
        self._identity = identity
        self._current_user = current_user
        self._actor: Actor | None = None

    async def current(self) -> Actor:
        if self._actor is None:
            user = await self._current_user.get()
            self._actor = Actor(user_id=user.id_, role=user.role)
        return self._actor

    async def optional(self) -> Actor | None:
        if not self._identity.has_credentials():
            return None
        return await self.current()
