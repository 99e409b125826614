"""The Product aggregate: what is sold, at what price, and how many are on hand."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from app.catalog.domain.errors import (
    InsufficientStockError,
    InvalidProductTransitionError,
    InvalidStockChangeError,
    StockLimitError,
)
from app.catalog.domain.events import (
    ProductArchived,
    ProductCreated,
    ProductDetailsEdited,
    ProductPriceChanged,
    ProductReactivated,
    ProductStockAdjusted,
)
from app.catalog.domain.value_objects import (
    Description,
    ProductId,
    ProductName,
    ProductStatus,
    Sku,
    StockChangeReason,
)
from app.shared.domain.events import AggregateRoot
from app.shared.domain.money import InvalidMoneyError, Money

MAX_STOCK = 1_000_000


@dataclass(eq=False, kw_only=True)
class Product(AggregateRoot):
    id_: ProductId
    sku: Sku
    name: ProductName
    description: Description
    price: Money
    stock_on_hand: int
    status: ProductStatus
    created_at: datetime
    updated_at: datetime
    # Optimistic locking: the mapper bumps it on every update and refuses stale writes.
    version: int = 1

    @classmethod
    def create(
        cls,
        *,
        id_: ProductId,
        sku: Sku,
        name: ProductName,
        description: Description,
        price: Money,
        stock_on_hand: int,
        at: datetime,
    ) -> Product:
        ensure_price(price)
        if not 0 <= stock_on_hand <= MAX_STOCK:
            raise InvalidStockChangeError(f"Initial stock is 0 to {MAX_STOCK}.")
        product = cls(
            id_=id_,
            sku=sku,
            name=name,
            description=description,
            price=price,
            stock_on_hand=stock_on_hand,
            status=ProductStatus.ACTIVE,
            created_at=at,
            updated_at=at,
        )
        product.record(
            ProductCreated(
                aggregate_id=id_,
                occurred_at=at,
                sku=sku.value,
                name=name.value,
                price_amount=str(price.amount),
                currency=price.currency,
                stock_on_hand=stock_on_hand,
            )
        )
        return product

    def edit_details(self, *, name: ProductName, description: Description, at: datetime) -> None:
        self.name = name
        self.description = description
        self.updated_at = at
        self.record(ProductDetailsEdited(aggregate_id=self.id_, occurred_at=at, name=name.value))

    def change_price(self, price: Money, *, at: datetime) -> None:
        ensure_price(price)
        old = self.price
        self.price = price
        self.updated_at = at
        self.record(
            ProductPriceChanged(
                aggregate_id=self.id_,
                occurred_at=at,
                old_amount=str(old.amount),
                new_amount=str(price.amount),
                currency=price.currency,
            )
        )

    def adjust_stock(self, delta: int, *, reason: StockChangeReason, at: datetime) -> None:
        """Restock (delta > 0) or correct (either sign); stock never goes below zero."""
        if delta == 0:
            raise InvalidStockChangeError("A stock change moves at least one unit.")
        if self.stock_on_hand + delta < 0:
            raise InsufficientStockError(
                "Stock cannot go below zero.", stock_on_hand=self.stock_on_hand
            )
        if self.stock_on_hand + delta > MAX_STOCK:
            raise StockLimitError(
                f"Stock is at most {MAX_STOCK}.",
                stock_on_hand=self.stock_on_hand,
                max_stock=MAX_STOCK,
            )
        self.stock_on_hand += delta
        self.updated_at = at
        self.record(
            ProductStockAdjusted(
                aggregate_id=self.id_,
                occurred_at=at,
                delta=delta,
                stock_on_hand=self.stock_on_hand,
                reason=reason.value,
            )
        )

    def archive(self, *, at: datetime) -> None:
        if self.status is ProductStatus.ARCHIVED:
            raise InvalidProductTransitionError(
                "The product is already archived.", current_status=self.status.value
            )
        self.status = ProductStatus.ARCHIVED
        self.updated_at = at
        self.record(ProductArchived(aggregate_id=self.id_, occurred_at=at))

    def reactivate(self, *, at: datetime) -> None:
        if self.status is ProductStatus.ACTIVE:
            raise InvalidProductTransitionError(
                "The product is already active.", current_status=self.status.value
            )
        self.status = ProductStatus.ACTIVE
        self.updated_at = at
        self.record(ProductReactivated(aggregate_id=self.id_, occurred_at=at))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Product) and other.id_ == self.id_

    def __hash__(self) -> int:
        return hash(self.id_)


def ensure_price(price: Money) -> None:
    """A price is more than zero (an amount of money may be zero, a price may not)."""
    if not price.is_positive:
        raise InvalidMoneyError("A price is greater than zero.")
