"""Catalog tables (imperative mapping keeps the domain free of SQLAlchemy)."""

from __future__ import annotations

from typing import Final

from sqlalchemy import (
    UUID,
    CheckConstraint,
    Column,
    DateTime,
    Enum,
    Index,
    Integer,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from app.catalog.domain.value_objects import ProductStatus
from app.shared.infrastructure.database import metadata

UQ_PRODUCTS_SKU: Final = "uq_products_sku"

products_table = Table(
    "products",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("sku", String(32), nullable=False),
    Column("name", String(200), nullable=False),
    Column("description", Text, nullable=False),
    Column("price_amount", Numeric(14, 2), nullable=False),
    Column("price_currency", String(3), nullable=False),
    Column("stock_on_hand", Integer, nullable=False),
    Column(
        "status",
        Enum(
            ProductStatus,
            name="status",
            native_enum=False,
            create_constraint=True,
            length=16,
            values_callable=lambda statuses: [status.value for status in statuses],
        ),
        nullable=False,
    ),
    Column("version", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("sku", name=UQ_PRODUCTS_SKU),
    # The database refuses oversell even if a code path forgot to check.
    CheckConstraint("stock_on_hand >= 0", name="stock_not_negative"),
    CheckConstraint("price_amount > 0", name="price_positive"),
    # Keyset pagination for each sort: (key, id).
    Index("ix_products_name_id", "name", "id"),
    Index("ix_products_price_id", "price_amount", "id"),
    Index("ix_products_created_at_id", "created_at", "id"),
)
