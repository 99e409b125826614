"""HTTP bodies of the catalog. Money travels as a decimal string plus an ISO 4217 currency."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, Field

from app.catalog.domain.product import MAX_STOCK
from app.catalog.domain.value_objects import Description, ProductName
from app.shared.presentation.http.fields import (
    AMOUNT,
    CURRENCY,
    NO_NUL,
    NOT_ZERO,
    SKU,
    TEXT,
    TEXT_3,
    JsonInt,
    documented,
)
from app.shared.presentation.http.pages import PageOut

_PRICE_DESCRIPTION = (
    "Decimal string above zero; at most the currency's decimal places (none for JPY, KRW)."
)


class CreateProductBody(BaseModel):
    sku: str = Field(json_schema_extra=documented(SKU), examples=["MUG-001"])
    name: str = Field(
        max_length=ProductName.MAX_LENGTH,
        json_schema_extra=documented(TEXT),
        examples=["Stoneware mug"],
    )
    description: str = Field(
        default="", max_length=Description.MAX_LENGTH, json_schema_extra=documented(NO_NUL)
    )
    price_amount: str = Field(
        pattern=AMOUNT,
        json_schema_extra=NOT_ZERO,
        description=_PRICE_DESCRIPTION,
        examples=["12.50"],
    )
    currency: str = Field(json_schema_extra=documented(CURRENCY), examples=["EUR"])
    stock_on_hand: JsonInt = Field(default=0, ge=0, le=MAX_STOCK)


class EditDetailsBody(BaseModel):
    name: str = Field(max_length=ProductName.MAX_LENGTH, json_schema_extra=documented(TEXT))
    description: str = Field(
        default="", max_length=Description.MAX_LENGTH, json_schema_extra=documented(NO_NUL)
    )


class PriceBody(BaseModel):
    amount: str = Field(
        pattern=AMOUNT,
        json_schema_extra=NOT_ZERO,
        description=_PRICE_DESCRIPTION,
        examples=["9.99"],
    )
    currency: str = Field(json_schema_extra=documented(CURRENCY))


class RestockBody(BaseModel):
    quantity: JsonInt = Field(ge=1, le=MAX_STOCK)
    reason: str = Field(
        max_length=200, json_schema_extra=documented(TEXT_3), examples=["Delivery 2024-117"]
    )


class AdjustStockBody(BaseModel):
    delta: JsonInt = Field(
        ge=-MAX_STOCK, le=MAX_STOCK, json_schema_extra={"not": {"const": 0}}, examples=[-2]
    )
    reason: str = Field(
        max_length=200, json_schema_extra=documented(TEXT_3), examples=["Damaged in storage"]
    )


class StockLevelOut(BaseModel):
    stock_on_hand: int


class ProductCreatedOut(BaseModel):
    id: UUID


class ProductOut(BaseModel):
    id: UUID
    sku: str
    name: str
    description: str
    price_amount: str
    currency: str
    stock_on_hand: int
    in_stock: bool
    status: str
    version: int
    created_at: datetime
    updated_at: datetime


class ProductPageOut(PageOut[ProductOut]):
    pass
