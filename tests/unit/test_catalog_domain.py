"""The catalog's value objects and the Product aggregate (no database, no framework)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from app.catalog.domain.errors import (
    InsufficientStockError,
    InvalidDescriptionError,
    InvalidProductNameError,
    InvalidProductTransitionError,
    InvalidSkuError,
    InvalidStockChangeError,
    ProductNotFoundError,
    SkuTakenError,
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
from app.catalog.domain.product import MAX_STOCK, Product
from app.catalog.domain.value_objects import (
    Description,
    ProductId,
    ProductName,
    ProductStatus,
    Sku,
    StockChangeReason,
)
from app.shared.domain.errors import ConflictError, InvalidValueError, NotFoundError
from app.shared.domain.money import InvalidMoneyError, Money

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
REASON = StockChangeReason.parse("Delivery 117")


def make_product(
    *, price: str = "12.50", currency: str = "EUR", stock: int = 5, at: datetime = T0
) -> Product:
    return Product.create(
        id_=ProductId(uuid.uuid4()),
        sku=Sku.parse("mug-001"),
        name=ProductName.parse("Stoneware mug"),
        description=Description.parse("A mug."),
        price=Money.of(price, currency),
        stock_on_hand=stock,
        at=at,
    )


# --- SKU -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("mug-001", "MUG-001"),
        ("  Mug-001\t", "MUG-001"),
        ("abc", "ABC"),
        ("a1-b2-c3", "A1-B2-C3"),
        ("0" * 32, "0" * 32),
        ("X-1", "X-1"),
    ],
)
def test_sku_is_trimmed_and_upper_cased(raw: str, expected: str) -> None:
    assert Sku.parse(raw).value == expected


def test_skus_differing_only_in_case_are_equal() -> None:
    assert Sku.parse("mug-001") == Sku.parse("MUG-001")


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "ab",  # too short
        "a" * 33,  # too long
        "-abc",  # leading dash
        "abc-",  # trailing dash
        "ab--cd",  # double dash
        "ab cd",  # inner blank
        "ab_cd",
        "ab.cd",
        "äbc",
        "ßku-1",  # upper-cased it would read "SSKU-1": only ASCII is folded
        "\u017fku",  # the long s, "S" in upper case
        "ab\x00cd",
        "MUG/001",
    ],
)
def test_invalid_skus_are_refused(raw: str) -> None:
    with pytest.raises(InvalidSkuError):
        Sku.parse(raw)


def test_the_sku_constructor_does_not_normalise() -> None:
    with pytest.raises(InvalidSkuError):
        Sku("mug-001")


# --- ProductName, Description, StockChangeReason --------------------------------------------


def test_product_name_collapses_whitespace() -> None:
    assert ProductName.parse("  Stoneware \t\n mug  ").value == "Stoneware mug"


def test_product_name_length_bounds() -> None:
    assert ProductName.parse("x").value == "x"
    assert ProductName.parse("x" * 200).value == "x" * 200
    with pytest.raises(InvalidProductNameError):
        ProductName.parse("x" * 201)


@pytest.mark.parametrize("raw", ["", "   ", "\t\n", "bad\x00name", "bell\x07", "half \ud83d pair"])
def test_blank_or_unprintable_names_are_refused(raw: str) -> None:
    with pytest.raises(InvalidProductNameError):
        ProductName.parse(raw)


def test_description_is_trimmed_may_be_empty_and_keeps_inner_newlines() -> None:
    assert Description.parse("").value == ""
    assert Description.parse("  two\nlines \n").value == "two\nlines"
    assert Description.parse("d" * 5000).value == "d" * 5000


@pytest.mark.parametrize("raw", ["d" * 5001, "nul\x00inside"])
def test_invalid_descriptions_are_refused(raw: str) -> None:
    with pytest.raises(InvalidDescriptionError):
        Description.parse(raw)


def test_stock_change_reason_bounds() -> None:
    assert StockChangeReason.parse("  box   broke ").value == "box broke"
    assert StockChangeReason.parse("abc").value == "abc"
    assert StockChangeReason.parse("r" * 200).value == "r" * 200
    for raw in ("", "ab", "  a   ", "r" * 201, "bad\x00reason"):
        with pytest.raises(InvalidStockChangeError):
            StockChangeReason.parse(raw)


def test_error_kinds_and_codes() -> None:
    assert issubclass(InvalidSkuError, InvalidValueError)
    assert issubclass(InvalidProductNameError, InvalidValueError)
    assert issubclass(InvalidDescriptionError, InvalidValueError)
    assert issubclass(InvalidStockChangeError, InvalidValueError)
    assert issubclass(InsufficientStockError, ConflictError)
    assert issubclass(SkuTakenError, ConflictError)
    assert issubclass(InvalidProductTransitionError, ConflictError)
    assert issubclass(ProductNotFoundError, NotFoundError)
    assert InsufficientStockError.code == "insufficient_stock"
    assert SkuTakenError.code == "sku_taken"
    assert InvalidProductTransitionError.code == "invalid_product_transition"


# --- Product: creation ------------------------------------------------------------------------


def test_create_records_product_created_with_the_initial_state() -> None:
    product = make_product(price="12.5", stock=5)
    assert product.status is ProductStatus.ACTIVE
    assert product.sku.value == "MUG-001"
    assert product.price == Money.of("12.50", "EUR")
    assert product.stock_on_hand == 5
    assert product.created_at == product.updated_at == T0
    assert product.version == 1
    events = product.pull_events()
    assert len(events) == 1
    event = events[0]
    assert isinstance(event, ProductCreated)
    assert event.aggregate_id == product.id_
    assert event.aggregate_type == "product"
    assert event.event_type() == "ProductCreated"
    assert event.occurred_at == T0
    assert (event.sku, event.name, event.price_amount, event.currency, event.stock_on_hand) == (
        "MUG-001",
        "Stoneware mug",
        "12.50",
        "EUR",
        5,
    )
    assert product.pull_events() == []  # taken once


def test_jpy_prices_have_no_decimals_in_events() -> None:
    product = make_product(price="1500", currency="JPY")
    (event,) = product.pull_events()
    assert isinstance(event, ProductCreated)
    assert event.price_amount == "1500"


@pytest.mark.parametrize("price", ["0", "0.00", "-1", "-0.01"])
def test_a_price_must_be_above_zero(price: str) -> None:
    with pytest.raises(InvalidMoneyError):
        make_product(price=price)


@pytest.mark.parametrize("stock", [-1, MAX_STOCK + 1])
def test_initial_stock_bounds(stock: int) -> None:
    with pytest.raises(InvalidStockChangeError):
        make_product(stock=stock)


def test_initial_stock_may_be_zero_or_the_maximum() -> None:
    assert make_product(stock=0).stock_on_hand == 0
    assert make_product(stock=MAX_STOCK).stock_on_hand == MAX_STOCK


# --- Product: changes -------------------------------------------------------------------------


def test_edit_details_records_an_event() -> None:
    product = make_product()
    product.pull_events()
    later = T0 + timedelta(minutes=1)
    product.edit_details(
        name=ProductName.parse("Big mug"), description=Description.parse("Bigger."), at=later
    )
    assert product.name.value == "Big mug"
    assert product.description.value == "Bigger."
    assert product.updated_at == later
    assert product.created_at == T0
    (event,) = product.pull_events()
    assert isinstance(event, ProductDetailsEdited)
    assert event.name == "Big mug"
    assert event.occurred_at == later


def test_change_price_records_old_and_new_amounts() -> None:
    product = make_product(price="12.50")
    product.pull_events()
    product.change_price(Money.of("9.9", "EUR"), at=T0 + timedelta(seconds=5))
    assert product.price == Money.of("9.90", "EUR")
    (event,) = product.pull_events()
    assert isinstance(event, ProductPriceChanged)
    assert (event.old_amount, event.new_amount, event.currency) == ("12.50", "9.90", "EUR")


@pytest.mark.parametrize("price", ["0", "-3"])
def test_change_price_refuses_non_positive_prices_and_changes_nothing(price: str) -> None:
    product = make_product(price="12.50")
    product.pull_events()
    with pytest.raises(InvalidMoneyError):
        product.change_price(Money.of(price, "EUR"), at=T0)
    assert product.price == Money.of("12.50", "EUR")
    assert product.pull_events() == []


def test_adjust_stock_up_and_down() -> None:
    product = make_product(stock=5)
    product.pull_events()
    product.adjust_stock(3, reason=REASON, at=T0)
    product.adjust_stock(-8, reason=StockChangeReason.parse("Stock count"), at=T0)
    assert product.stock_on_hand == 0
    first, second = product.pull_events()
    assert isinstance(first, ProductStockAdjusted)
    assert isinstance(second, ProductStockAdjusted)
    assert (first.delta, first.stock_on_hand, first.reason) == (3, 8, "Delivery 117")
    assert (second.delta, second.stock_on_hand, second.reason) == (-8, 0, "Stock count")


def test_stock_never_goes_below_zero() -> None:
    product = make_product(stock=2)
    product.pull_events()
    with pytest.raises(InsufficientStockError) as raised:
        product.adjust_stock(-3, reason=REASON, at=T0)
    assert raised.value.context == {"stock_on_hand": 2}
    assert product.stock_on_hand == 2
    assert product.pull_events() == []


def test_a_zero_stock_change_is_refused() -> None:
    product = make_product(stock=2)
    product.pull_events()
    with pytest.raises(InvalidStockChangeError):
        product.adjust_stock(0, reason=REASON, at=T0)
    assert product.pull_events() == []


def test_stock_never_exceeds_the_maximum() -> None:
    product = make_product(stock=MAX_STOCK - 1)
    product.adjust_stock(1, reason=REASON, at=T0)
    with pytest.raises(StockLimitError) as refused:
        product.adjust_stock(1, reason=REASON, at=T0)
    assert refused.value.context == {"stock_on_hand": MAX_STOCK, "max_stock": MAX_STOCK}
    assert product.stock_on_hand == MAX_STOCK


def test_archive_and_reactivate() -> None:
    product = make_product()
    product.pull_events()
    product.archive(at=T0 + timedelta(hours=1))
    assert product.status is ProductStatus.ARCHIVED
    assert product.updated_at == T0 + timedelta(hours=1)
    product.reactivate(at=T0 + timedelta(hours=2))
    assert product.status is ProductStatus.ACTIVE
    archived, reactivated = product.pull_events()
    assert isinstance(archived, ProductArchived)
    assert isinstance(reactivated, ProductReactivated)
    assert archived.aggregate_id == reactivated.aggregate_id == product.id_


def test_archiving_twice_is_an_invalid_transition() -> None:
    product = make_product()
    product.archive(at=T0)
    product.pull_events()
    with pytest.raises(InvalidProductTransitionError) as raised:
        product.archive(at=T0)
    assert raised.value.context == {"current_status": "archived"}
    assert product.pull_events() == []


def test_reactivating_an_active_product_is_an_invalid_transition() -> None:
    product = make_product()
    product.pull_events()
    with pytest.raises(InvalidProductTransitionError) as raised:
        product.reactivate(at=T0)
    assert raised.value.context == {"current_status": "active"}
    assert product.pull_events() == []


def test_every_change_records_one_event_in_order_for_the_product_at_its_moment() -> None:
    product = make_product()
    at = [T0 + timedelta(minutes=n) for n in range(6)]
    product.edit_details(name=ProductName.parse("B"), description=Description.parse(""), at=at[1])
    product.change_price(Money.of("1", "EUR"), at=at[2])
    product.adjust_stock(1, reason=REASON, at=at[3])
    product.archive(at=at[4])
    product.reactivate(at=at[5])

    assert [(type(e), e.aggregate_id, e.occurred_at) for e in product.pull_events()] == [
        (ProductCreated, product.id_, at[0]),
        (ProductDetailsEdited, product.id_, at[1]),
        (ProductPriceChanged, product.id_, at[2]),
        (ProductStockAdjusted, product.id_, at[3]),
        (ProductArchived, product.id_, at[4]),
        (ProductReactivated, product.id_, at[5]),
    ]
    assert product.updated_at == at[5]


def test_products_are_equal_by_identity() -> None:
    one, other = make_product(), make_product()
    assert one != other
    assert one == one  # noqa: PLR0124
    assert len({one, other, one}) == 2
