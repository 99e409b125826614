"""Who may manage which user. Routers never decide this; interactors ask here before they act.

Each rule is a function of the actor and the subject. Every refusal is the same AuthorizationError
(403 ``forbidden``, "You are not allowed to do this."), so a refusal does not say which rule failed.
"""

from __future__ import annotations

from typing import Final

from app.identity.domain.user import User
from app.shared.application.actor import Actor
from app.shared.application.errors import AuthorizationError
from app.shared.domain.role import Role

# List, look up, deactivate and activate users, and grant and revoke their roles.
MANAGES_USERS: Final = Role.ADMIN


def _refused() -> AuthorizationError:
    return AuthorizationError("You are not allowed to do this.")


def ensure_manages_users(actor: User | Actor) -> None:
    """Only admins and above manage users. Checked before any lookup, so ids cannot be probed."""
    if not actor.role.includes(MANAGES_USERS):
        raise _refused()


def ensure_outranks(actor: User, subject: User) -> None:
    """Actors act on users strictly below their own role, so never on themselves or a peer."""
    if not actor.role.outranks(subject.role):
        raise _refused()


def ensure_may_assign(actor: User, subject: User, role: Role) -> None:
    """Only roles strictly below the actor's own are given or taken away, and only from users
    below it: nobody outranks super_admin, so it is never granted."""
    if not (actor.role.outranks(subject.role) and actor.role.outranks(role)):
        raise _refused()
