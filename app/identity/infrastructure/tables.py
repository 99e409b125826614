"""Identity tables (imperative mapping: the domain classes stay free of SQLAlchemy)."""

from __future__ import annotations

from typing import Final

from sqlalchemy import (
    UUID,
    Column,
    DateTime,
    Enum,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
    text,
)

from app.identity.domain.value_objects import UserStatus
from app.shared.domain.role import Role
from app.shared.infrastructure.database import metadata

# Named once, used by the table and by the IntegrityError translation (see constraints.py).
UQ_USERS_USERNAME: Final = "uq_users_username"
UQ_USERS_EMAIL: Final = "uq_users_email"

users_table = Table(
    "users",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("username", String(32), nullable=False),
    Column("email", String(254), nullable=False),
    Column("password_hash", String(255), nullable=False),
    Column(
        "role",
        Enum(
            Role,
            name="role",
            native_enum=False,
            create_constraint=True,
            length=16,
            values_callable=lambda roles: [role.value for role in roles],
        ),
        nullable=False,
    ),
    Column(
        "status",
        Enum(
            UserStatus,
            name="status",
            native_enum=False,
            create_constraint=True,
            length=16,
            values_callable=lambda statuses: [status.value for status in statuses],
        ),
        nullable=False,
    ),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("credentials_version", Integer, nullable=False, server_default=text("1")),
    UniqueConstraint("username", name=UQ_USERS_USERNAME),
    UniqueConstraint("email", name=UQ_USERS_EMAIL),
    # Keyset pagination by creation time needs (created_at, id) ordered.
    Index("ix_users_created_at_id", "created_at", "id"),
)
