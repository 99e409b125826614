"""HTTP bodies of the order routes (Pydantic). Money is a decimal string plus a currency code,
never a float."""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from app.ordering.domain.value_objects import MAX_LINES, MAX_QUANTITY, MIN_QUANTITY, OrderStatus
from app.shared.presentation.http.fields import IsoDate, JsonInt
from app.shared.presentation.http.pages import PageOut

AMOUNT_DESCRIPTION = "Decimal amount as a string in the currency's scale, e.g. '12.50'."


class OrderLineIn(BaseModel):
    product_id: UUID
    # true and "2" are not quantities; 2.0 is (an integer, in JSON Schema's terms).
    quantity: JsonInt = Field(ge=MIN_QUANTITY, le=MAX_QUANTITY)


class PlaceOrderBody(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"lines": [{"product_id": "0b6a4d5e-6c1f-4f0e-9d55-3b1fd1f4a2c7", "quantity": 2}]}
            ]
        }
    )

    lines: list[OrderLineIn] = Field(
        min_length=1,
        max_length=MAX_LINES,
        description="One entry per product; a product listed twice is merged into one line, "
        "which holds 1 to 1000 units in all.",
    )


class PayOrderBody(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"card_number": "4242424242424242"}]})

    # repr=False: a card number never reaches a log line through this model.
    card_number: str = Field(
        min_length=12,
        max_length=23,
        pattern=r"^[0-9][0-9 -]*[0-9]$",
        repr=False,
        description="12 to 19 digits, optionally grouped with spaces or hyphens.",
    )


class CancelOrderBody(BaseModel):
    reason: str | None = Field(default=None, max_length=500, pattern=r"^[^\x00]*$")


class OrderLineOut(BaseModel):
    line_no: int
    product_id: UUID
    sku: str
    name: str
    unit_price: str = Field(description=AMOUNT_DESCRIPTION)
    quantity: int
    line_total: str = Field(description=AMOUNT_DESCRIPTION)


class OrderOut(BaseModel):
    id: UUID
    customer_id: UUID
    status: OrderStatus
    total_amount: str = Field(description=AMOUNT_DESCRIPTION)
    currency: str = Field(description="ISO 4217 code")
    lines: list[OrderLineOut]
    created_at: datetime
    updated_at: datetime
    paid_at: datetime | None
    payment_reference: str | None
    shipped_at: datetime | None
    delivered_at: datetime | None
    cancelled_at: datetime | None
    cancellation_reason: str | None


class OrderSummaryOut(BaseModel):
    id: UUID
    customer_id: UUID
    status: OrderStatus
    total_amount: str = Field(description=AMOUNT_DESCRIPTION)
    currency: str
    created_at: datetime
    updated_at: datetime


class OrderPageOut(PageOut[OrderSummaryOut]):
    pass


class SalesRowOut(BaseModel):
    day: date = Field(description="UTC calendar day the orders were placed")
    status: OrderStatus
    currency: str
    order_count: int
    revenue: str = Field(description="Sum of the orders' totals. " + AMOUNT_DESCRIPTION)


class SalesSummaryOut(BaseModel):
    first_day: date
    last_day: date
    rows: list[SalesRowOut]


class StartExportBody(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"first_day": "2026-11-01", "last_day": "2026-11-30"}]}
    )

    first_day: IsoDate = Field(description="First UTC day of placement, inclusive")
    last_day: IsoDate = Field(description="Last UTC day of placement, inclusive (366 days at most)")


class OrderExportOut(BaseModel):
    id: UUID
    requested_by: UUID
    status: str = Field(description="queued, running, completed, failed or cancelled")
    first_day: date
    last_day: date
    rows_total: int | None = Field(description="Orders to write; known once the export starts")
    rows_written: int
    percent: float = Field(ge=0, le=100)
    size_bytes: int
    requested_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    expires_at: datetime | None = Field(description="The file is deleted after this")
    failure_reason: str | None = Field(description="too_large or internal_error")
    status_url: str
    download_url: str | None = Field(description="Set once the export completed")


class DailySalesOut(BaseModel):
    day: date
    currency: str
    orders_placed: int
    orders_paid: int
    revenue: str = Field(description="Totals of the orders paid that day. " + AMOUNT_DESCRIPTION)
    refunds: int = Field(description="Paid orders cancelled that day")
    refunded: str = Field(description=AMOUNT_DESCRIPTION)
    net: str = Field(description="revenue - refunded")
    rolled_up_at: datetime


class OrderExportPageOut(PageOut[OrderExportOut]):
    pass
