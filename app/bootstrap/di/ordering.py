"""Wiring of the ordering context: ports to adapters, interactors per request.

Needs from elsewhere: AsyncSession, TransactionManager, Clock (platform), ActorProvider
(identity), StockReservations (catalog), IdempotencyStore (platform).
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from dishka import Provider, Scope, provide, provide_all

from app.bootstrap.settings import Settings
from app.ordering.application.commands.cancel_order import CancelOrder
from app.ordering.application.commands.cancel_order_export import CancelOrderExport
from app.ordering.application.commands.deliver_order import DeliverOrder
from app.ordering.application.commands.expire_order import ExpireOrder
from app.ordering.application.commands.fail_order_export import FailOrderExport
from app.ordering.application.commands.hand_over_order_export import HandOverOrderExport
from app.ordering.application.commands.pay_order import PayOrder
from app.ordering.application.commands.place_order import PlaceOrder
from app.ordering.application.commands.purge_order_exports import PurgeOrderExports
from app.ordering.application.commands.roll_up_daily_sales import RollUpDailySales
from app.ordering.application.commands.ship_order import ShipOrder
from app.ordering.application.commands.start_order_export import StartOrderExport
from app.ordering.application.commands.write_export_chunk import WriteExportChunk
from app.ordering.application.export_policy import ExportPolicy
from app.ordering.application.ports.order_exports import (
    ExportableOrders,
    ExportFileStore,
    OrderExportReader,
    OrderExportRepository,
)
from app.ordering.application.ports.order_reader import OrderReader
from app.ordering.application.ports.order_repository import OrderRepository
from app.ordering.application.ports.payment_gateway import PaymentGateway
from app.ordering.application.ports.sales_ledger import DailySalesReader, SalesLedger
from app.ordering.application.queries.daily_sales import DailySales
from app.ordering.application.queries.download_order_export import DownloadOrderExport
from app.ordering.application.queries.find_overdue_orders import FindOverdueOrders
from app.ordering.application.queries.get_order import GetOrder
from app.ordering.application.queries.get_order_export import GetOrderExport
from app.ordering.application.queries.list_my_orders import ListMyOrders
from app.ordering.application.queries.list_order_exports import ListOrderExports
from app.ordering.application.queries.sales_summary import SalesSummary
from app.ordering.application.queries.search_orders import SearchOrders
from app.ordering.domain.policy import OrderingPolicy
from app.ordering.domain.ports import OrderIdGenerator
from app.ordering.domain.value_objects import OrderId
from app.ordering.infrastructure.sandbox_payment_gateway import SandboxPaymentGateway
from app.ordering.infrastructure.sqla_order_exports import (
    SqlaExportFileStore,
    SqlaOrderExportReader,
    SqlaOrderExportRepository,
)
from app.ordering.infrastructure.sqla_order_reader import SqlaExportableOrders, SqlaOrderReader
from app.ordering.infrastructure.sqla_order_repository import SqlaOrderRepository
from app.ordering.infrastructure.sqla_sales_ledger import SqlaDailySalesReader, SqlaSalesLedger


def _new_order_id() -> OrderId:
    return OrderId(uuid.uuid4())


class OrderingProviderSet(Provider):
    """Adapters and interactors of the ordering context."""

    @provide(scope=Scope.APP)
    def order_id_generator(self) -> OrderIdGenerator:
        return _new_order_id

    @provide(scope=Scope.APP)
    def export_policy(self, settings: Settings) -> ExportPolicy:
        return ExportPolicy(
            chunk_rows=settings.export.chunk_rows,
            max_bytes=settings.export.max_bytes,
            retention=timedelta(seconds=settings.export.retention_seconds),
            max_unfinished=settings.export.max_unfinished,
        )

    @provide(scope=Scope.APP)
    def policy(self, settings: Settings) -> OrderingPolicy:
        ordering = settings.ordering
        return OrderingPolicy(
            payment_window=timedelta(seconds=ordering.payment_window_seconds),
            max_pending_orders=ordering.max_pending_orders,
            max_pending_units=ordering.max_pending_units,
            max_units_per_product=ordering.max_units_per_product,
        )

    # The only gateway so far; a real one replaces this line (same port).
    payments = provide(SandboxPaymentGateway, provides=PaymentGateway, scope=Scope.APP)
    orders = provide(SqlaOrderRepository, provides=OrderRepository, scope=Scope.REQUEST)
    reader = provide(SqlaOrderReader, provides=OrderReader, scope=Scope.REQUEST)
    exports = provide(
        SqlaOrderExportRepository, provides=OrderExportRepository, scope=Scope.REQUEST
    )
    export_reader = provide(SqlaOrderExportReader, provides=OrderExportReader, scope=Scope.REQUEST)
    export_files = provide(SqlaExportFileStore, provides=ExportFileStore, scope=Scope.REQUEST)
    ledger = provide(SqlaSalesLedger, provides=SalesLedger, scope=Scope.REQUEST)
    daily_sales = provide(SqlaDailySalesReader, provides=DailySalesReader, scope=Scope.REQUEST)
    exportable = provide(SqlaExportableOrders, provides=ExportableOrders, scope=Scope.REQUEST)

    interactors = provide_all(
        PlaceOrder,
        PayOrder,
        CancelOrder,
        ShipOrder,
        DeliverOrder,
        ExpireOrder,
        GetOrder,
        ListMyOrders,
        SearchOrders,
        SalesSummary,
        FindOverdueOrders,
        StartOrderExport,
        CancelOrderExport,
        WriteExportChunk,
        HandOverOrderExport,
        FailOrderExport,
        PurgeOrderExports,
        GetOrderExport,
        ListOrderExports,
        DownloadOrderExport,
        RollUpDailySales,
        DailySales,
        scope=Scope.REQUEST,
    )
