from __future__ import annotations

from sqlalchemy.orm import composite

from app.catalog.domain.product import Product
from app.catalog.domain.value_objects import Description, ProductName, Sku
from app.catalog.infrastructure.tables import products_table
from app.shared.domain.money import Money
from app.shared.infrastructure.database import mapper_registry


def map_catalog() -> None:
    """Map the catalog entities; idempotent."""
    if getattr(Product, "__mapper__", None) is not None:
        return
    columns = products_table.c
    mapper_registry.map_imperatively(
        Product,
        products_table,
        properties={
            "id_": columns.id,
            "_sku": columns.sku,
            "sku": composite(Sku, columns.sku),
            "_name": columns.name,
            "name": composite(ProductName, columns.name),
            "_description": columns.description,
            "description": composite(Description, columns.description),
            "_price_amount": columns.price_amount,
            "_price_currency": columns.price_currency,
            "price": composite(Money, columns.price_amount, columns.price_currency),
        },
        version_id_col=columns.version,
    )
