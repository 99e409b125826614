"""Who is calling, as every bounded context needs to know it: an id and a role.

Identity implements ActorProvider; other contexts depend on this port only, never on identity.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol
from uuid import UUID

from app.shared.application.errors import AuthorizationError
from app.shared.domain.role import Role


@dataclass(frozen=True, slots=True)
class Actor:
    user_id: UUID
    role: Role

    def has_role(self, role: Role) -> bool:
        return self.role.includes(role)


class ActorProvider(Protocol):
    async def current(self) -> Actor:
        """The authenticated, active caller; raises AuthenticationError otherwise."""
        ...

    async def optional(self) -> Actor | None:
        """The caller if credentials were sent (and are valid), None for anonymous calls."""
        ...


def require_role(actor: Actor, role: Role) -> None:
    if not actor.has_role(role):
        raise AuthorizationError(f"This needs the {role.value} role or higher.")
