"""HTTP routes. No `from __future__ import annotations` here: FastAPI reads the annotations of
Dishka's injection wrapper, which cannot resolve postponed (string) annotations."""

from typing import Annotated
from uuid import UUID

from dishka.integrations.fastapi import FromDishka
from fastapi import Depends, Path, Query, Request, Response, status

from app.catalog.application.commands.adjust_product_stock import (
    AdjustProductStock,
    AdjustProductStockRequest,
)
from app.catalog.application.commands.archive_product import (
    ArchiveProduct,
    ArchiveProductRequest,
)
from app.catalog.application.commands.change_product_price import (
    ChangeProductPrice,
    ChangeProductPriceRequest,
)
from app.catalog.application.commands.create_product import (
    CreateProduct,
    CreateProductRequest,
)
from app.catalog.application.commands.edit_product_details import (
    EditProductDetails,
    EditProductDetailsRequest,
)
from app.catalog.application.commands.reactivate_product import (
    ReactivateProduct,
    ReactivateProductRequest,
)
from app.catalog.application.commands.restock_product import (
    RestockProduct,
    RestockProductRequest,
)
from app.catalog.application.ports.product_reader import ProductFilter, ProductSort
from app.catalog.application.queries.get_product import GetProduct, GetProductRequest
from app.catalog.application.queries.list_products import ListProducts, ListProductsRequest
from app.catalog.domain.value_objects import ProductStatus
from app.catalog.presentation.http.schemas import (
    AdjustStockBody,
    CreateProductBody,
    EditDetailsBody,
    PriceBody,
    ProductCreatedOut,
    ProductOut,
    ProductPageOut,
    RestockBody,
    StockLevelOut,
)
from app.shared.application.actor import ActorProvider
from app.shared.application.rate_limit import RateLimiter, RateLimitRule
from app.shared.presentation.http.bearer import oauth2_scheme
from app.shared.presentation.http.client import client_address
from app.shared.presentation.http.fields import DecimalText
from app.shared.presentation.http.openapi import links, problems
from app.shared.presentation.http.response_cache import AnsweredFromMemory
from app.shared.presentation.http.routing import PrefixedRouter

router = PrefixedRouter(prefix="/api/v1/products", tags=["products"])
_staff = [Depends(oauth2_scheme)]
_NO_NUL = r"^[^\x00]*$"


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses={
        **problems(401, 403, 409),
        **links(
            201,
            "product_id",
            "$response.body#/id",
            "products-get_product",
            "products-edit_product_details",
            "products-change_product_price",
            "products-restock_product",
            "products-adjust_product_stock",
            "products-archive_product",
            "products-reactivate_product",
        ),
    },
    dependencies=_staff,
)
async def create_product(
    body: CreateProductBody, response: Response, interactor: FromDishka[CreateProduct]
) -> ProductCreatedOut:
    """Staff: add a product (SKUs are unique regardless of case)."""
    result = await interactor(CreateProductRequest(**body.model_dump()))
    response.headers["Location"] = f"{router.prefix}/{result['id']}"
    return ProductCreatedOut.model_validate(result)


@router.get("", responses=problems(401, 403, 429))
async def list_products(  # noqa: PLR0913 - one parameter per documented filter
    *,
    request: Request,
    interactor: FromDishka[ListProducts],
    actors: FromDishka[ActorProvider],
    limiter: FromDishka[RateLimiter],
    q: Annotated[str | None, Query(max_length=100, pattern=_NO_NUL)] = None,
    min_price: Annotated[DecimalText | None, Query()] = None,
    max_price: Annotated[DecimalText | None, Query()] = None,
    # Three ASCII letters, either case: a NUL went through to PostgreSQL, which refused it (500).
    currency: Annotated[
        str | None, Query(pattern=r"^[A-Za-z]{3}$", description="ISO 4217 code, either case")
    ] = None,
    in_stock: bool | None = None,
    status_: Annotated[
        ProductStatus | None,
        Query(alias="status", description="Staff only, except 'active' (the default)."),
    ] = ProductStatus.ACTIVE,
    all_statuses: Annotated[bool, Query(description="Staff only: every status.")] = False,
    sort: ProductSort = ProductSort.NAME,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> ProductPageOut:
    """Browse the catalog: text search on name and SKU, price range, stock; sorted by name,
    price or age; one page at a time (pass the previous page's ``next_cursor``).

    Anonymous callers are rate limited per address (429); signed-in callers are not."""
    # Invalid credentials are a 401 here, so a made-up token cannot dodge the anonymous limit.
    if await actors.optional() is None:
        await limiter.hit_address(RateLimitRule.LIST_PRODUCTS_PER_ADDRESS, client_address(request))
    page = await interactor(
        ListProductsRequest(
            filter_=ProductFilter(
                text=q,
                min_price=min_price,
                max_price=max_price,
                currency=currency,
                in_stock=in_stock,
                status=None if all_statuses else status_,
            ),
            sort=sort,
            limit=limit,
            cursor=cursor,
        )
    )
    return ProductPageOut.model_validate(page)


# 401 only when credentials are sent and invalid: anonymous reads need none.
@router.get("/by-sku/{sku}", responses=problems(401, 404))
async def get_product_by_sku(
    sku: Annotated[str, Path(max_length=64, pattern=_NO_NUL)], interactor: FromDishka[GetProduct]
) -> ProductOut:
    """One product by SKU (case-insensitive)."""
    return ProductOut.model_validate(await interactor(GetProductRequest(sku=sku)))


class _ProductAnsweredFromMemory(AnsweredFromMemory):
    # The namespace of one product's cached read (catalog/infrastructure/cache_keys.py), which
    # every write of the product bumps; test_product_answers_from_memory.py holds them equal.
    cache_kind = "catalog:product"
    id_param = "product_id"


async def get_product(product_id: UUID, interactor: FromDishka[GetProduct]) -> ProductOut:
    """One product by id (archived products: staff only)."""
    return ProductOut.model_validate(await interactor(GetProductRequest(product_id=product_id)))


# The most read route: an anonymous read is answered from memory while nothing changed it.
router.add_api_route(
    "/{product_id}",
    get_product,
    methods=["GET"],
    responses=problems(401, 404),
    route_class_override=_ProductAnsweredFromMemory,
)


@router.patch(
    "/{product_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(401, 403, 404, 409),
    dependencies=_staff,
)
async def edit_product_details(
    product_id: UUID, body: EditDetailsBody, interactor: FromDishka[EditProductDetails]
) -> None:
    """Staff: rename or re-describe a product."""
    await interactor(
        EditProductDetailsRequest(
            product_id=product_id, name=body.name, description=body.description
        )
    )


@router.put(
    "/{product_id}/price",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(401, 403, 404, 409),
    dependencies=_staff,
)
async def change_product_price(
    product_id: UUID, body: PriceBody, interactor: FromDishka[ChangeProductPrice]
) -> None:
    """Staff: set a new price (placed orders keep theirs)."""
    await interactor(
        ChangeProductPriceRequest(product_id=product_id, amount=body.amount, currency=body.currency)
    )


@router.post(
    "/{product_id}/stock/restock",
    responses=problems(401, 403, 404, 409),
    dependencies=_staff,
)
async def restock_product(
    product_id: UUID, body: RestockBody, interactor: FromDishka[RestockProduct]
) -> StockLevelOut:
    """Staff: receive goods (a positive quantity, with a reason); stock never goes above
    1,000,000 (409 `stock_limit_exceeded`)."""
    result = await interactor(
        RestockProductRequest(product_id=product_id, quantity=body.quantity, reason=body.reason)
    )
    return StockLevelOut.model_validate(result)


@router.post(
    "/{product_id}/stock/adjustments",
    responses=problems(401, 403, 404, 409),
    dependencies=_staff,
)
async def adjust_product_stock(
    product_id: UUID, body: AdjustStockBody, interactor: FromDishka[AdjustProductStock]
) -> StockLevelOut:
    """Staff: correct stock either way, with a reason; it never goes below zero (409
    `insufficient_stock`) nor above 1,000,000 (409 `stock_limit_exceeded`)."""
    result = await interactor(
        AdjustProductStockRequest(product_id=product_id, delta=body.delta, reason=body.reason)
    )
    return StockLevelOut.model_validate(result)


@router.post(
    "/{product_id}/archive",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(401, 403, 404, 409),
    dependencies=_staff,
)
async def archive_product(product_id: UUID, interactor: FromDishka[ArchiveProduct]) -> None:
    """Staff: withdraw a product from sale."""
    await interactor(ArchiveProductRequest(product_id=product_id))


@router.post(
    "/{product_id}/reactivate",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(401, 403, 404, 409),
    dependencies=_staff,
)
async def reactivate_product(product_id: UUID, interactor: FromDishka[ReactivateProduct]) -> None:
    """Staff: put an archived product back on sale."""
    await interactor(ReactivateProductRequest(product_id=product_id))
