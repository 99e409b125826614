from __future__ import annotations

from sqlalchemy.orm import composite

from app.identity.domain.user import User
from app.identity.domain.value_objects import Email, PasswordHash, Username
from app.identity.infrastructure.tables import users_table
from app.shared.infrastructure.database import mapper_registry


def map_identity() -> None:
    """Map the identity entities; safe to call more than once (app start-up, Alembic, tests)."""
    if getattr(User, "__mapper__", None) is not None:
        return
    columns = users_table.c
    mapper_registry.map_imperatively(
        User,
        users_table,
        properties={
            "id_": columns.id,
            # Value objects are composites over private column attributes.
            "_username": columns.username,
            "username": composite(Username, columns.username),
            "_email": columns.email,
            "email": composite(Email, columns.email),
            "_password_hash": columns.password_hash,
            "password_hash": composite(PasswordHash, columns.password_hash),
        },
    )
