"""Events the Product aggregate records (written to the outbox with the change)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from app.shared.domain.events import DomainEvent


@dataclass(frozen=True, kw_only=True)
class ProductEvent(DomainEvent):
    aggregate_type: ClassVar[str] = "product"


@dataclass(frozen=True, kw_only=True)
class ProductCreated(ProductEvent):
    sku: str
    name: str
    price_amount: str
    currency: str
    stock_on_hand: int


@dataclass(frozen=True, kw_only=True)
class ProductDetailsEdited(ProductEvent):
    name: str


@dataclass(frozen=True, kw_only=True)
class ProductPriceChanged(ProductEvent):
    old_amount: str
    new_amount: str
    currency: str


@dataclass(frozen=True, kw_only=True)
class ProductStockAdjusted(ProductEvent):
    delta: int
    stock_on_hand: int
    reason: str


@dataclass(frozen=True, kw_only=True)
class ProductArchived(ProductEvent):
    pass


@dataclass(frozen=True, kw_only=True)
class ProductReactivated(ProductEvent):
    pass
