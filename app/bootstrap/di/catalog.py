"""Wiring of the catalog context: adapters (cached reads, stock contract) and interactors."""

from __future__ import annotations

from dishka import Provider, Scope, provide, provide_all

from app.catalog.application.commands.adjust_product_stock import AdjustProductStock
from app.catalog.application.commands.archive_product import ArchiveProduct
from app.catalog.application.commands.change_product_price import ChangeProductPrice
from app.catalog.application.commands.create_product import CreateProduct
from app.catalog.application.commands.edit_product_details import EditProductDetails
from app.catalog.application.commands.reactivate_product import ReactivateProduct
from app.catalog.application.commands.restock_product import RestockProduct
from app.catalog.application.ports.product_reader import ProductReader
from app.catalog.application.ports.product_repository import ProductRepository
from app.catalog.application.queries.get_product import GetProduct
from app.catalog.application.queries.list_products import ListProducts
from app.catalog.infrastructure.cached_product_reader import CachedProductReader
from app.catalog.infrastructure.sqla_product_reader import SqlaProductReader
from app.catalog.infrastructure.sqla_product_repository import SqlaProductRepository
from app.catalog.infrastructure.sqla_stock_reservations import SqlaStockReservations
from app.shared.application.stock import StockReservations


class CatalogProviderSet(Provider):
    scope = Scope.REQUEST

    products = provide(SqlaProductRepository, provides=ProductRepository)
    sqla_reader = provide(SqlaProductReader)
    reader = provide(CachedProductReader, provides=ProductReader)
    # Catalog fulfils the shared stock contract that ordering depends on.
    stock = provide(SqlaStockReservations, provides=StockReservations)

    interactors = provide_all(
        CreateProduct,
        EditProductDetails,
        ChangeProductPrice,
        RestockProduct,
        AdjustProductStock,
        ArchiveProduct,
        ReactivateProduct,
        GetProduct,
        ListProducts,
    )
