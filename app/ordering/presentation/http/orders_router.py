"""HTTP routes of the ordering context. No `from __future__ import annotations` here: FastAPI
reads the annotations of Dishka's injection wrapper, which cannot resolve postponed (string)
annotations."""

from typing import Annotated, Final
from uuid import UUID

from dishka.integrations.fastapi import FromDishka
from fastapi import Body, Depends, Header, Query, Request, Response, status

from app.ordering.application.commands.cancel_order import CancelOrder, CancelOrderRequest
from app.ordering.application.commands.deliver_order import DeliverOrder, DeliverOrderRequest
from app.ordering.application.commands.pay_order import PayOrder, PayOrderRequest
from app.ordering.application.commands.place_order import (
    PlaceOrder,
    PlaceOrderLine,
    PlaceOrderRequest,
)
from app.ordering.application.commands.ship_order import ShipOrder, ShipOrderRequest
from app.ordering.application.queries.daily_sales import DailySales, DailySalesRequest
from app.ordering.application.queries.get_order import GetOrder, GetOrderRequest
from app.ordering.application.queries.list_my_orders import ListMyOrders, ListMyOrdersRequest
from app.ordering.application.queries.sales_summary import SalesSummary, SalesSummaryRequest
from app.ordering.application.queries.search_orders import SearchOrders, SearchOrdersRequest
from app.ordering.application.snapshot import OrderSnapshot
from app.ordering.domain.value_objects import OrderStatus
from app.ordering.presentation.http.schemas import (
    CancelOrderBody,
    DailySalesOut,
    OrderOut,
    OrderPageOut,
    PayOrderBody,
    PlaceOrderBody,
    SalesSummaryOut,
)
from app.shared.application.idempotency import Idempotent
from app.shared.application.rate_limit import RateLimiter, RateLimitRule
from app.shared.presentation.http.bearer import oauth2_scheme
from app.shared.presentation.http.client import client_address
from app.shared.presentation.http.fields import (
    IDEMPOTENCY_KEY,
    IsoDate,
    IsoDateTime,
    documented,
)
from app.shared.presentation.http.openapi import links, problems
from app.shared.presentation.http.routing import PrefixedRouter

REPLAYED_HEADER: Final = "Idempotent-Replayed"

router = PrefixedRouter(
    prefix="/api/v1/orders",
    tags=["orders"],
    dependencies=[Depends(oauth2_scheme)],
)

IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        json_schema_extra=documented(IDEMPOTENCY_KEY),
        description="Any unique string of visible ASCII characters (e.g. a UUID). A retry with "
        "the same key and body gets the first response, marked with `Idempotent-Replayed: true`, "
        "without acting twice.",
    ),
]
Limit = Annotated[int, Query(ge=1, le=100)]
Cursor = Annotated[str | None, Query(max_length=512, description="The previous page's next_cursor")]


def _order_out(result: Idempotent[OrderSnapshot], response: Response) -> OrderOut:
    if result.replayed:
        response.headers[REPLAYED_HEADER] = "true"
    return OrderOut.model_validate(result.response)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses={
        **problems(401, 409, 422, 429),
        **links(
            201,
            "order_id",
            "$response.body#/id",
            "orders-get_order",
            "orders-pay_order",
            "orders-cancel_order",
            "orders-ship_order",
            "orders-deliver_order",
        ),
    },
)
async def place_order(
    body: PlaceOrderBody,
    request: Request,
    response: Response,
    interactor: FromDishka[PlaceOrder],
    limiter: FromDishka[RateLimiter],
    idempotency_key: IdempotencyKeyHeader = None,
) -> OrderOut:
    """Order 1 to 50 products (1 to 1000 of each, a product listed twice counting once with the
    sum: more is 422 `invalid_quantity`; customers at most 10 of one product, 409
    `too_many_units_of_product`). Stock is reserved at once and the order awaits payment; prices
    are those of the moment. 409 `out_of_stock` or `product_unavailable` when a product cannot be
    reserved (then nothing is); 409 `too_many_pending_orders` or `too_many_pending_units` when a
    customer's unpaid orders already hold their share (3 orders, 50 units by default); 429 when
    ordering too often, per account or per address."""
    # Per address as well as per account: many throwaway accounts from one place count together.
    await limiter.hit_address(RateLimitRule.PLACE_ORDER_PER_ADDRESS, client_address(request))
    result = await interactor(
        PlaceOrderRequest(
            lines=tuple(
                PlaceOrderLine(product_id=line.product_id, quantity=line.quantity)
                for line in body.lines
            ),
            idempotency_key=idempotency_key,
        )
    )
    response.headers["Location"] = f"{router.prefix}/{result.response['id']}"
    return _order_out(result, response)


@router.get("", responses=problems(401))
async def list_my_orders(
    interactor: FromDishka[ListMyOrders],
    status_: Annotated[OrderStatus | None, Query(alias="status")] = None,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> OrderPageOut:
    """Your orders, newest first, one page at a time (pass the previous page's `next_cursor`)."""
    page = await interactor(ListMyOrdersRequest(status=status_, limit=limit, cursor=cursor))
    return OrderPageOut.model_validate(page)


@router.get("/search", responses=problems(401, 403))
async def search_orders(
    interactor: FromDishka[SearchOrders],
    status_: Annotated[OrderStatus | None, Query(alias="status")] = None,
    created_from: Annotated[
        IsoDateTime | None, Query(description="Inclusive; UTC if no offset")
    ] = None,
    created_to: Annotated[
        IsoDateTime | None, Query(description="Exclusive; UTC if no offset")
    ] = None,
    customer_id: UUID | None = None,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> OrderPageOut:
    """Staff: every customer's orders by status, creation time and customer, newest first."""
    page = await interactor(
        SearchOrdersRequest(
            status=status_,
            created_from=created_from,
            created_to=created_to,
            customer_id=customer_id,
            limit=limit,
            cursor=cursor,
        )
    )
    return OrderPageOut.model_validate(page)


@router.get("/sales-summary", responses=problems(401, 403))
async def sales_summary(
    interactor: FromDishka[SalesSummary],
    first_day: Annotated[IsoDate, Query(alias="from", description="First UTC day, inclusive")],
    last_day: Annotated[IsoDate, Query(alias="to", description="Last UTC day, inclusive")],
) -> SalesSummaryOut:
    """Admins: orders and revenue per UTC day, status and currency (at most 366 days)."""
    summary = await interactor(SalesSummaryRequest(first_day=first_day, last_day=last_day))
    return SalesSummaryOut.model_validate(summary)


@router.get("/daily-sales", responses=problems(401, 403))
async def daily_sales(
    interactor: FromDishka[DailySales],
    first_day: Annotated[IsoDate, Query(alias="from", description="First UTC day, inclusive")],
    last_day: Annotated[IsoDate, Query(alias="to", description="Last UTC day, inclusive")],
) -> list[DailySalesOut]:
    """Admins: per UTC day and currency, orders placed, payments taken and refunds due, as rolled
    up by the periodic job (every `APP_CELERY_SALES_ROLLUP_SECONDS`; at most 366 days)."""
    rows = await interactor(DailySalesRequest(first_day=first_day, last_day=last_day))
    return [DailySalesOut.model_validate(row) for row in rows]


@router.get("/{order_id}", responses=problems(401, 404))
async def get_order(order_id: UUID, interactor: FromDishka[GetOrder]) -> OrderOut:
    """One order with its lines: your own, or any order for staff."""
    return OrderOut.model_validate(await interactor(GetOrderRequest(order_id=order_id)))


@router.post("/{order_id}/pay", responses=problems(401, 402, 403, 404, 409, 429, 503))
async def pay_order(
    order_id: UUID,
    body: PayOrderBody,
    response: Response,
    interactor: FromDishka[PayOrder],
    idempotency_key: IdempotencyKeyHeader = None,
) -> OrderOut:
    """Pay your pending order by card. 402 `payment_declined` (with a `reason` code) leaves the
    order pending; 409 when the order no longer awaits payment; 429 when paying too often or
    after too many declined payments (5 an hour by default), per account: the order stays
    pending; 503 `payment_gateway_error` when the gateway's answer cannot be recorded (retry
    later with the same key)."""
    result = await interactor(
        PayOrderRequest(
            order_id=order_id, card_number=body.card_number, idempotency_key=idempotency_key
        )
    )
    return _order_out(result, response)


@router.post("/{order_id}/cancel", responses=problems(401, 403, 404, 409))
async def cancel_order(
    order_id: UUID,
    interactor: FromDishka[CancelOrder],
    body: Annotated[CancelOrderBody | None, Body()] = None,
) -> OrderOut:
    """Cancel an order awaiting payment (yours, or any for staff); admins also cancel paid orders,
    which are then refunded. The stock is given back."""
    reason = body.reason if body is not None else None
    return OrderOut.model_validate(
        await interactor(CancelOrderRequest(order_id=order_id, reason=reason))
    )


@router.post("/{order_id}/ship", responses=problems(401, 403, 404, 409))
async def ship_order(order_id: UUID, interactor: FromDishka[ShipOrder]) -> OrderOut:
    """Staff: a paid order leaves the warehouse."""
    return OrderOut.model_validate(await interactor(ShipOrderRequest(order_id=order_id)))


@router.post("/{order_id}/deliver", responses=problems(401, 403, 404, 409))
async def deliver_order(order_id: UUID, interactor: FromDishka[DeliverOrder]) -> OrderOut:
    """Staff: a shipped order has arrived."""
    return OrderOut.model_validate(await interactor(DeliverOrderRequest(order_id=order_id)))
