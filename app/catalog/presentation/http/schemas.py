"""HTTP bodies of the catalog. Money travels as a decimal string plus an ISO 4217 currency."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, Field

AMOUNT_PATTERN = r"^\d{1,10}(\.\d{1,2})?$"


class CreateProductBody(BaseModel):
    sku: str = Field(min_length=1, max_length=64, examples=["MUG-001"])
    name: str = Field(min_length=1, max_length=400, examples=["Stoneware mug"])
    description: str = Field(default="", max_length=5000)
    price_amount: str = Field(pattern=AMOUNT_PATTERN, examples=["12.50"])
    currency: str = Field(min_length=3, max_length=3, examples=["EUR"])
    stock_on_hand: int = Field(default=0, ge=0, le=1_000_000)


class EditDetailsBody(BaseModel):
    name: str = Field(min_length=1, max_length=400)
    description: str = Field(default="", max_length=5000)


class PriceBody(BaseModel):
    amount: str = Field(pattern=AMOUNT_PATTERN, examples=["9.99"])
    currency: str = Field(min_length=3, max_length=3)


class RestockBody(BaseModel):
    quantity: int = Field(ge=1, le=1_000_000)
    reason: str = Field(min_length=1, max_length=200, examples=["Delivery 2024-117"])


class AdjustStockBody(BaseModel):
    delta: int = Field(ge=-1_000_000, le=1_000_000, examples=[-2])
    reason: str = Field(min_length=1, max_length=200, examples=["Damaged in storage"])


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


class ProductPageOut(BaseModel):
    items: list[ProductOut]
    next_cursor: str | None
