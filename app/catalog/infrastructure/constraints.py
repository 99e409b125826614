from __future__ import annotations

from app.catalog.domain.errors import SkuTakenError
from app.catalog.infrastructure.tables import UQ_PRODUCTS_SKU
from app.shared.infrastructure.transaction import ConstraintErrors

CATALOG_CONSTRAINT_ERRORS: ConstraintErrors = {
    UQ_PRODUCTS_SKU: lambda: SkuTakenError("A product with this SKU already exists."),
}
