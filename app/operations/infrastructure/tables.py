from __future__ import annotations

from sqlalchemy import UUID, Column, DateTime, Index, Integer, String, Table, Text
from sqlalchemy.dialects.postgresql import JSONB

from app.shared.infrastructure.database import metadata

dead_letters_table = Table(
    "dead_letters",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("task_id", String(255), nullable=False),
    Column("task_name", String(255), nullable=False),
    Column("kwargs", JSONB, nullable=False),
    Column("error_type", String(255), nullable=False),
    Column("error_message", Text, nullable=False),
    Column("retries", Integer, nullable=False),
    Column("failed_at", DateTime(timezone=True), nullable=False),
    Column("requeued_at", DateTime(timezone=True), nullable=True),
    Column("requeued_task_id", String(255), nullable=True),
    Index("ix_dead_letters_failed_at_id", "failed_at", "id"),
)
