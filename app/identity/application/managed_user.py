from __future__ import annotations

from app.identity.application.current_user import CurrentUser
from app.identity.application.permissions import ensure_manages_users, ensure_outranks
from app.identity.application.ports.user_repository import UserRepository
from app.identity.domain.errors import UserNotFoundError
from app.identity.domain.user import User
from app.identity.domain.value_objects import UserId


async def load_managed_user(
    current_user: CurrentUser, users: UserRepository, user_id: UserId
) -> tuple[User, User]:
    """The acting admin and the subject user, locked for update, once both checks pass."""
    actor = await current_user.get()
    ensure_manages_users(actor)
    subject = await users.get_by_id(user_id, for_update=True)
    if subject is None:
        raise UserNotFoundError("No such user.", user_id=str(user_id))
    ensure_outranks(actor, subject)
    return actor, subject
