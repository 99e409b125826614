"""Catalog use cases against autospecced ports: who may write, what is stored and committed,
what readers are asked for, and what a reader's answer becomes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from unittest.mock import create_autospec
from uuid import UUID, uuid4

import pytest

from app.catalog.application.commands.adjust_product_stock import (
    AdjustProductStock,
    AdjustProductStockRequest,
)
from app.catalog.application.commands.archive_product import ArchiveProduct, ArchiveProductRequest
from app.catalog.application.commands.change_product_price import (
    ChangeProductPrice,
    ChangeProductPriceRequest,
)
from app.catalog.application.commands.create_product import CreateProduct, CreateProductRequest
from app.catalog.application.commands.edit_product_details import (
    EditProductDetails,
    EditProductDetailsRequest,
)
from app.catalog.application.commands.reactivate_product import (
    ReactivateProduct,
    ReactivateProductRequest,
)
from app.catalog.application.commands.restock_product import RestockProduct, RestockProductRequest
from app.catalog.application.errors import InvalidPriceRangeError
from app.catalog.application.ports.product_reader import (
    ProductFilter,
    ProductReader,
    ProductSort,
    ProductView,
)
from app.catalog.application.ports.product_repository import ProductRepository
from app.catalog.application.queries.get_product import GetProduct, GetProductRequest
from app.catalog.application.queries.list_products import ListProducts, ListProductsRequest
from app.catalog.domain.errors import (
    InsufficientStockError,
    InvalidProductTransitionError,
    InvalidStockChangeError,
    ProductNotFoundError,
)
from app.catalog.domain.product import Product
from app.catalog.domain.value_objects import (
    Description,
    ProductId,
    ProductName,
    ProductStatus,
    Sku,
)
from app.shared.application.actor import Actor, ActorProvider
from app.shared.application.errors import AuthorizationError
from app.shared.application.ports import Clock, TransactionManager
from app.shared.domain.money import Money
from app.shared.domain.role import Role

CREATED = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
NOW = CREATED + timedelta(days=1)
CUSTOMER = Actor(user_id=uuid4(), role=Role.CUSTOMER)
STAFF = Actor(user_id=uuid4(), role=Role.STAFF)
ADMIN = Actor(user_id=uuid4(), role=Role.ADMIN)


def make_product(*, stock: int = 5, status: ProductStatus = ProductStatus.ACTIVE) -> Product:
    product = Product.create(
        id_=ProductId(uuid4()),
        sku=Sku.parse("MUG-001"),
        name=ProductName.parse("Stoneware mug"),
        description=Description.parse("Holds tea."),
        price=Money.of("12.50", "EUR"),
        stock_on_hand=stock,
        at=CREATED,
    )
    product.status = status
    product.pull_events()
    return product


class Ports:
    """The command side's ports, autospecced; ``stored`` is what the repository holds."""

    def __init__(self, actor: Actor | None = STAFF, *products: Product) -> None:
        self.actors: Any = create_autospec(ActorProvider, instance=True)
        self.actors.current.return_value = actor
        self.actors.optional.return_value = actor
        self.stored = {product.id_: product for product in products}
        self.products: Any = create_autospec(ProductRepository, instance=True)
        self.products.get.side_effect = self.stored.get
        self.products.add.side_effect = lambda product: self.stored.__setitem__(
            product.id_, product
        )
        self.transaction: Any = create_autospec(TransactionManager, instance=True)
        self.clock: Any = create_autospec(Clock, instance=True)
        self.clock.now.return_value = NOW

    def command(self, kind: type[Any]) -> Any:
        return kind(self.actors, self.products, self.transaction, self.clock)


# --- create ---------------------------------------------------------------------------------


def create_request(**overrides: Any) -> CreateProductRequest:
    fields: dict[str, Any] = {
        "sku": "  mug-002 ",
        "name": "  Tea   cup ",
        "description": " Porcelain. ",
        "price_amount": "9.90",
        "currency": "EUR",
        "stock_on_hand": 7,
    }
    return CreateProductRequest(**(fields | overrides))


async def test_staff_create_a_product_stored_normalised_and_committed() -> None:
    ports = Ports(STAFF)
    response = await ports.command(CreateProduct)(create_request())
    (product,) = ports.stored.values()
    assert response == {"id": str(product.id_)}
    assert UUID(response["id"]) == product.id_
    assert product.sku.value == "MUG-002"
    assert product.name.value == "Tea cup"
    assert product.description.value == "Porcelain."
    assert product.price == Money.of("9.90", "EUR")
    assert product.stock_on_hand == 7
    assert product.status is ProductStatus.ACTIVE
    assert product.created_at == product.updated_at == NOW
    assert [type(event).__name__ for event in product.pull_events()] == ["ProductCreated"]
    ports.transaction.commit.assert_awaited_once_with()


async def test_each_product_gets_a_new_id() -> None:
    ports = Ports(STAFF)
    first = await ports.command(CreateProduct)(create_request())
    second = await ports.command(CreateProduct)(create_request(sku="MUG-003"))
    assert first["id"] != second["id"]
    assert len(ports.stored) == 2


async def test_stock_defaults_to_zero() -> None:
    ports = Ports(STAFF)
    request = CreateProductRequest(
        sku="MUG-004", name="Mug", description="", price_amount="1.00", currency="EUR"
    )
    await ports.command(CreateProduct)(request)
    (product,) = ports.stored.values()
    assert product.stock_on_hand == 0


async def test_customers_do_not_create_products() -> None:
    ports = Ports(CUSTOMER)
    with pytest.raises(AuthorizationError, match="staff"):
        await ports.command(CreateProduct)(create_request())
    ports.products.add.assert_not_called()
    ports.transaction.commit.assert_not_awaited()


async def test_admins_create_products_too() -> None:
    ports = Ports(ADMIN)
    await ports.command(CreateProduct)(create_request())
    assert len(ports.stored) == 1


# --- the staff's changes to one product -------------------------------------------------------


CHANGES: list[tuple[type[Any], Any]] = [
    (
        RestockProduct,
        lambda pid: RestockProductRequest(product_id=pid, quantity=3, reason="goods in"),
    ),
    (
        AdjustProductStock,
        lambda pid: AdjustProductStockRequest(product_id=pid, delta=-2, reason="broken"),
    ),
    (ArchiveProduct, lambda pid: ArchiveProductRequest(product_id=pid)),
    (
        ChangeProductPrice,
        lambda pid: ChangeProductPriceRequest(product_id=pid, amount="15.00", currency="EUR"),
    ),
    (
        EditProductDetails,
        lambda pid: EditProductDetailsRequest(product_id=pid, name="Big mug", description="More."),
    ),
]
CHANGE_IDS = [kind.__name__ for kind, _ in CHANGES]


@pytest.mark.parametrize(("kind", "request_for"), CHANGES, ids=CHANGE_IDS)
async def test_a_change_is_for_staff_only_and_touches_nothing_otherwise(
    kind: type[Any], request_for: Any
) -> None:
    product = make_product()
    ports = Ports(CUSTOMER, product)
    with pytest.raises(AuthorizationError):
        await ports.command(kind)(request_for(product.id_))
    ports.products.get.assert_not_awaited()  # authorization first: no existence leak
    ports.transaction.commit.assert_not_awaited()
    assert product.updated_at == CREATED


@pytest.mark.parametrize(("kind", "request_for"), CHANGES, ids=CHANGE_IDS)
async def test_a_change_to_a_missing_product_is_not_found(
    kind: type[Any], request_for: Any
) -> None:
    ports = Ports(STAFF)
    missing = uuid4()
    with pytest.raises(ProductNotFoundError) as raised:
        await ports.command(kind)(request_for(missing))
    assert raised.value.context == {"product_id": str(missing)}
    ports.products.get.assert_awaited_once_with(ProductId(missing))
    ports.transaction.commit.assert_not_awaited()


@pytest.mark.parametrize(("kind", "request_for"), CHANGES, ids=CHANGE_IDS)
async def test_a_change_is_stamped_with_the_clock_and_committed_once(
    kind: type[Any], request_for: Any
) -> None:
    product = make_product()
    ports = Ports(STAFF, product)
    await ports.command(kind)(request_for(product.id_))
    assert product.updated_at == NOW
    assert product.created_at == CREATED
    ports.transaction.commit.assert_awaited_once_with()


async def test_a_restock_adds_its_quantity_and_says_the_new_level() -> None:
    product = make_product(stock=5)
    ports = Ports(STAFF, product)
    request = RestockProductRequest(product_id=product.id_, quantity=3, reason="  goods  in ")
    assert await ports.command(RestockProduct)(request) == {"stock_on_hand": 8}
    assert product.stock_on_hand == 8
    (event,) = product.pull_events()
    assert event.reason == "goods in"  # type: ignore[attr-defined]


@pytest.mark.parametrize("quantity", [0, -1])
async def test_a_restock_of_no_units_is_refused_before_anything_is_read(quantity: int) -> None:
    product = make_product()
    ports = Ports(STAFF, product)
    request = RestockProductRequest(product_id=product.id_, quantity=quantity, reason="goods in")
    with pytest.raises(InvalidStockChangeError, match="at least one unit"):
        await ports.command(RestockProduct)(request)
    ports.actors.current.assert_not_awaited()
    ports.products.get.assert_not_awaited()
    assert product.stock_on_hand == 5


async def test_a_restock_of_one_unit_is_enough() -> None:
    product = make_product(stock=0)
    ports = Ports(STAFF, product)
    request = RestockProductRequest(product_id=product.id_, quantity=1, reason="goods in")
    assert await ports.command(RestockProduct)(request) == {"stock_on_hand": 1}


@pytest.mark.parametrize(("delta", "left"), [(-2, 3), (4, 9), (-5, 0)])
async def test_an_adjustment_moves_stock_either_way(delta: int, left: int) -> None:
    product = make_product(stock=5)
    ports = Ports(STAFF, product)
    request = AdjustProductStockRequest(product_id=product.id_, delta=delta, reason="count")
    assert await ports.command(AdjustProductStock)(request) == {"stock_on_hand": left}
    assert product.stock_on_hand == left


async def test_an_adjustment_never_takes_stock_below_zero() -> None:
    product = make_product(stock=5)
    ports = Ports(STAFF, product)
    request = AdjustProductStockRequest(product_id=product.id_, delta=-6, reason="count")
    with pytest.raises(InsufficientStockError):
        await ports.command(AdjustProductStock)(request)
    assert product.stock_on_hand == 5
    ports.transaction.commit.assert_not_awaited()


async def test_archive_then_reactivate() -> None:
    product = make_product()
    ports = Ports(STAFF, product)
    await ports.command(ArchiveProduct)(ArchiveProductRequest(product_id=product.id_))
    assert product.status is ProductStatus.ARCHIVED
    await ports.command(ReactivateProduct)(ReactivateProductRequest(product_id=product.id_))
    assert product.status is ProductStatus.ACTIVE
    assert product.updated_at == NOW
    assert ports.transaction.commit.await_count == 2


async def test_reactivate_is_for_staff_and_only_for_archived_products() -> None:
    product = make_product()
    with pytest.raises(AuthorizationError):
        await Ports(CUSTOMER, product).command(ReactivateProduct)(
            ReactivateProductRequest(product_id=product.id_)
        )
    ports = Ports(STAFF, product)
    with pytest.raises(InvalidProductTransitionError):
        await ports.command(ReactivateProduct)(ReactivateProductRequest(product_id=product.id_))
    ports.transaction.commit.assert_not_awaited()
    missing = uuid4()
    with pytest.raises(ProductNotFoundError):
        await ports.command(ReactivateProduct)(ReactivateProductRequest(product_id=missing))


async def test_a_new_price_replaces_the_old_one() -> None:
    product = make_product()
    ports = Ports(STAFF, product)
    request = ChangeProductPriceRequest(product_id=product.id_, amount="15.00", currency="EUR")
    await ports.command(ChangeProductPrice)(request)
    assert product.price == Money.of("15.00", "EUR")


async def test_details_are_normalised_and_the_sku_stays() -> None:
    product = make_product()
    ports = Ports(STAFF, product)
    request = EditProductDetailsRequest(
        product_id=product.id_, name="  Big   mug ", description="  More tea.  "
    )
    await ports.command(EditProductDetails)(request)
    assert product.name.value == "Big mug"
    assert product.description.value == "More tea."
    assert product.sku.value == "MUG-001"


# --- reads ----------------------------------------------------------------------------------


def view(status: ProductStatus = ProductStatus.ACTIVE) -> ProductView:
    return ProductView(
        id=str(uuid4()),
        sku="MUG-001",
        name="Stoneware mug",
        description="Holds tea.",
        price_amount="12.50",
        currency="EUR",
        stock_on_hand=5,
        in_stock=True,
        status=status.value,
        version=1,
        created_at=CREATED,
        updated_at=CREATED,
    )


def reader_ports(actor: Actor | None, found: ProductView | None = None) -> tuple[Any, Any]:
    reader: Any = create_autospec(ProductReader, instance=True)
    reader.get.return_value = found
    reader.get_by_sku.return_value = found
    reader.list.return_value = {"items": [], "next_cursor": None}
    actors: Any = create_autospec(ActorProvider, instance=True)
    actors.current.return_value = actor
    actors.optional.return_value = actor
    return reader, actors


async def test_a_product_is_read_by_id() -> None:
    found = view()
    reader, actors = reader_ports(None, found)
    product_id = uuid4()
    assert await GetProduct(reader, actors)(GetProductRequest(product_id=product_id)) is found
    reader.get.assert_awaited_once_with(ProductId(product_id))
    reader.get_by_sku.assert_not_awaited()
    actors.optional.assert_not_awaited()  # an active product is for anyone: no session lookup


async def test_a_product_is_read_by_its_sku_in_any_case_and_padding() -> None:
    found = view()
    reader, actors = reader_ports(None, found)
    assert await GetProduct(reader, actors)(GetProductRequest(sku="  mug-001 ")) is found
    reader.get_by_sku.assert_awaited_once_with("MUG-001")
    reader.get.assert_not_awaited()


async def test_no_id_and_no_sku_reads_the_empty_sku() -> None:
    reader, actors = reader_ports(None, None)
    with pytest.raises(ProductNotFoundError):
        await GetProduct(reader, actors)(GetProductRequest())
    reader.get_by_sku.assert_awaited_once_with("")


async def test_a_missing_product_is_not_found() -> None:
    reader, actors = reader_ports(STAFF, None)
    with pytest.raises(ProductNotFoundError, match="No such product"):
        await GetProduct(reader, actors)(GetProductRequest(product_id=uuid4()))


@pytest.mark.parametrize(
    ("actor", "visible"),
    [(None, False), (CUSTOMER, False), (STAFF, True), (ADMIN, True)],
    ids=["anonymous", "customer", "staff", "admin"],
)
async def test_an_archived_product_is_for_staff_eyes_only(
    actor: Actor | None, visible: bool
) -> None:
    found = view(ProductStatus.ARCHIVED)
    reader, actors = reader_ports(actor, found)
    read = GetProduct(reader, actors)(GetProductRequest(product_id=uuid4()))
    if visible:
        assert await read is found
    else:
        with pytest.raises(ProductNotFoundError):
            await read


async def test_anyone_lists_active_products_without_a_session() -> None:
    reader, actors = reader_ports(None)
    page = await ListProducts(reader, actors)(ListProductsRequest())
    assert page == {"items": [], "next_cursor": None}
    actors.current.assert_not_awaited()
    reader.list.assert_awaited_once_with(
        filter_=ProductFilter(), sort=ProductSort.NAME, limit=20, cursor=None
    )


@pytest.mark.parametrize("status", [ProductStatus.ARCHIVED, None], ids=["archived", "every"])
async def test_other_statuses_are_listed_for_staff_only(status: ProductStatus | None) -> None:
    request = ListProductsRequest(filter_=ProductFilter(status=status))
    reader, actors = reader_ports(CUSTOMER)
    with pytest.raises(AuthorizationError):
        await ListProducts(reader, actors)(request)
    reader.list.assert_not_awaited()
    reader, actors = reader_ports(STAFF)
    await ListProducts(reader, actors)(request)
    assert reader.list.await_args.kwargs["filter_"].status is status


@pytest.mark.parametrize(
    ("low", "high", "refused"),
    [("10", "9.99", True), ("10", "10", False), (None, "1", False), ("1", None, False)],
)
async def test_a_price_range_must_not_be_upside_down(
    low: str | None, high: str | None, refused: bool
) -> None:
    bounds = ProductFilter(
        min_price=Decimal(low) if low else None, max_price=Decimal(high) if high else None
    )
    reader, actors = reader_ports(None)
    listing = ListProducts(reader, actors)(ListProductsRequest(filter_=bounds))
    if refused:
        with pytest.raises(InvalidPriceRangeError, match="min_price is above max_price"):
            await listing
        reader.list.assert_not_awaited()
    else:
        await listing
        reader.list.assert_awaited_once()


@pytest.mark.parametrize(("asked", "sent"), [(0, 1), (-5, 1), (1, 1), (100, 100), (101, 100)])
async def test_page_sizes_are_held_between_1_and_100(asked: int, sent: int) -> None:
    reader, actors = reader_ports(None)
    await ListProducts(reader, actors)(ListProductsRequest(limit=asked, cursor="abc"))
    assert reader.list.await_args.kwargs["limit"] == sent
    assert reader.list.await_args.kwargs["cursor"] == "abc"


async def test_a_listing_passes_its_sort_through() -> None:
    reader, actors = reader_ports(None)
    await ListProducts(reader, actors)(ListProductsRequest(sort=ProductSort.PRICE_DESC))
    assert reader.list.await_args.kwargs["sort"] is ProductSort.PRICE_DESC


@pytest.mark.parametrize(
    ("given", "normalised"),
    [
        (ProductFilter(text="  mug "), ProductFilter(text="mug")),
        (ProductFilter(text="   "), ProductFilter(text=None)),
        (ProductFilter(min_price=Decimal("0.001")), ProductFilter(min_price=Decimal("0.01"))),
        (ProductFilter(min_price=Decimal("2.50")), ProductFilter(min_price=Decimal("2.50"))),
        (ProductFilter(max_price=Decimal("9.999")), ProductFilter(max_price=Decimal("9.99"))),
        (ProductFilter(max_price=Decimal("9.90")), ProductFilter(max_price=Decimal("9.90"))),
        (ProductFilter(currency="eur"), ProductFilter(currency="EUR")),
        (ProductFilter(in_stock=True), ProductFilter(in_stock=True)),
    ],
    ids=["text", "blank", "min-up", "min-kept", "max-down", "max-kept", "currency", "in-stock"],
)
async def test_one_filter_per_meaning(given: ProductFilter, normalised: ProductFilter) -> None:
    reader, actors = reader_ports(None)
    await ListProducts(reader, actors)(ListProductsRequest(filter_=given))
    sent = reader.list.await_args.kwargs["filter_"]
    assert sent == normalised
    for bound in ("min_price", "max_price"):
        if getattr(normalised, bound) is not None:
            assert str(getattr(sent, bound)) == str(getattr(normalised, bound))
