from __future__ import annotations

from app.identity.application.current_user import ensure_holder_is_live
from app.identity.application.ports.auth import IdentityProvider
from app.identity.application.ports.user_reader import UserReader
from app.identity.domain.value_objects import UserStatus
from app.shared.application.actor import Actor


class CurrentActor:
    """Identity's implementation of the shared ActorProvider port, for the other contexts.

    Authorizing needs the role and the checks of CurrentUser (exists, active, same credentials),
    not the User entity: one narrow read, outside the request's transaction.
    """

    def __init__(self, identity: IdentityProvider, users: UserReader) -> None:
        self._identity = identity
        self._users = users
        self._actor: Actor | None = None

    async def current(self) -> Actor:
        if self._actor is None:
            session = await self._identity.current_session()
            caller = await self._users.caller(session.user_id)
            ensure_holder_is_live(
                session,
                active=caller is not None and caller.status is UserStatus.ACTIVE,
                credentials_version=caller.credentials_version if caller is not None else None,
            )
            assert caller is not None  # noqa: S101 - checked just above
            self._actor = Actor(user_id=session.user_id, role=caller.role)
        return self._actor

    async def optional(self) -> Actor | None:
        if not self._identity.has_credentials():
            return None
        return await self.current()
