"""Demo data for local runs: a catalog of a few hundred products, staff and customer accounts,
and some orders in several states. Idempotent: a second run adds nothing.

Everything goes through the real use cases (the container, the domain rules, the outbox), with
the acting user fixed instead of read from an HTTP request.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from dishka import AsyncContainer, Provider, Scope, make_async_container
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.bootstrap.di.catalog import CatalogProviderSet
from app.bootstrap.di.identity import IdentityProviderSet
from app.bootstrap.di.ordering import OrderingProviderSet
from app.bootstrap.di.platform import PlatformProvider
from app.bootstrap.mapping import map_all
from app.bootstrap.settings import Settings, load_settings
from app.bootstrap.telemetry import Tracing
from app.catalog.application.commands.create_product import CreateProduct, CreateProductRequest
from app.catalog.infrastructure.tables import products_table
from app.identity.application.commands.sign_up import SignUp, SignUpRequest
from app.identity.application.ports.user_repository import UserRepository
from app.identity.domain.value_objects import Username
from app.ordering.application.commands.pay_order import PayOrder, PayOrderRequest
from app.ordering.application.commands.place_order import (
    PlaceOrder,
    PlaceOrderLine,
    PlaceOrderRequest,
)
from app.ordering.application.commands.ship_order import ShipOrder, ShipOrderRequest
from app.ordering.infrastructure.tables import orders_table
from app.shared.application.actor import Actor, ActorProvider
from app.shared.application.ports import Clock, TransactionManager
from app.shared.domain.role import Role

PRODUCT_COUNT: Final = 300
APPROVED_CARD: Final = "4242424242424242"
_ADJECTIVES = (
    "Alpine", "Brushed", "Classic", "Compact", "Copper", "Daily", "Everyday", "Field", "Forest",
    "Harbor", "Linen", "Maple", "Matte", "Nordic", "Oak", "Pocket", "Slate", "Studio", "Travel",
    "Urban",
)  # fmt: skip
_NOUNS = (
    "Backpack", "Bottle", "Candle", "Chair", "Desk Lamp", "Kettle", "Mug", "Notebook", "Pan",
    "Pen", "Planter", "Scarf", "Teapot", "Throw", "Tote", "Tray",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class DemoAccount:
    username: str
    role: Role


ACCOUNTS: Final = (
    DemoAccount("admin", Role.ADMIN),
    DemoAccount("staff", Role.STAFF),
    DemoAccount("customer", Role.CUSTOMER),
    DemoAccount("customer2", Role.CUSTOMER),
)


class _FixedActor:
    def __init__(self, actor: Actor) -> None:
        self._actor = actor

    async def current(self) -> Actor:
        return self._actor

    async def optional(self) -> Actor | None:
        return self._actor


def _as(actor: Actor) -> Provider:
    provider = Provider(scope=Scope.REQUEST)
    provider.provide(lambda: _FixedActor(actor), provides=ActorProvider, override=True)
    return provider


def demo_products(count: int = PRODUCT_COUNT) -> list[CreateProductRequest]:
    rng = random.Random(20241129)  # noqa: S311 - demo data, not security  # nosec B311
    products = []
    for number in range(1, count + 1):
        adjective, noun = rng.choice(_ADJECTIVES), rng.choice(_NOUNS)
        price = Decimal(rng.randrange(299, 19999)) / 100
        products.append(
            CreateProductRequest(
                sku=f"DEMO-{number:04d}",
                name=f"{adjective} {noun}",
                description=f"A {adjective.lower()} {noun.lower()} from the demo catalog.",
                price_amount=str(price),
                currency="EUR",
                stock_on_hand=rng.choice((0, 3, 10, 25, 50, 100)),
            )
        )
    return products


def shoppers(count: int) -> tuple[DemoAccount, ...]:
    """Customers for load tests (loadtests/journeys/customers.py logs in as them)."""
    return tuple(
        DemoAccount(f"shopper{number:04d}", Role.CUSTOMER) for number in range(1, count + 1)
    )


class DemoSeeder:
    def __init__(
        self,
        settings: Settings,
        password: str,
        *,
        shopper_count: int = 0,
        product_count: int = PRODUCT_COUNT,
    ) -> None:
        self._settings = settings
        self._password = password
        self._demo_accounts = (*ACCOUNTS, *shoppers(shopper_count))
        self._product_count = product_count

    def _container(self, *providers: Provider) -> AsyncContainer:
        return make_async_container(
            PlatformProvider(),
            IdentityProviderSet(),
            CatalogProviderSet(),
            OrderingProviderSet(),
            *providers,
            context={Settings: self._settings, Tracing: Tracing(None)},
            skip_validation=True,  # no HTTP request here
        )

    async def run(self) -> dict[str, int]:
        map_all()
        container = self._container()
        try:
            users = await self._accounts(container)
        finally:
            await container.close()
        staff = Actor(user_id=users["staff"], role=Role.STAFF)
        products = await self._products(staff)
        orders = await self._orders(Actor(user_id=users["customer"], role=Role.CUSTOMER), staff)
        return {"accounts": len(users), "products_created": products, "orders_created": orders}

    async def _accounts(self, container: AsyncContainer) -> dict[str, uuid.UUID]:
        ids: dict[str, uuid.UUID] = {}
        for account in self._demo_accounts:
            async with container(scope=Scope.REQUEST) as scope:
                users = await scope.get(UserRepository)
                user = await users.get_by_username(Username(account.username))
                if user is None:
                    sign_up = await scope.get(SignUp)
                    await sign_up(
                        SignUpRequest(
                            username=account.username,
                            email=f"{account.username}@example.com",
                            password=self._password,
                        )
                    )
                    user = await users.get_by_username(Username(account.username))
                assert user is not None  # noqa: S101 - just created
                if user.role is not account.role:
                    clock = await scope.get(Clock)
                    user.assign_role(account.role, at=clock.now())
                    await (await scope.get(TransactionManager)).commit()
                ids[account.username] = user.id_
        return ids

    async def _products(self, staff: Actor) -> int:
        container = self._container(_as(staff))
        created = 0
        try:
            async with container(scope=Scope.REQUEST) as scope:
                session = await scope.get(AsyncSession)
                existing = set((await session.execute(select(products_table.c.sku))).scalars())
            for request in demo_products(self._product_count):
                if request.sku in existing:
                    continue
                async with container(scope=Scope.REQUEST) as scope:
                    await (await scope.get(CreateProduct))(request)
                    created += 1
        finally:
            await container.close()
        return created

    async def _orders(self, customer: Actor, staff: Actor) -> int:
        as_customer = self._container(_as(customer))
        as_staff = self._container(_as(staff))
        try:
            async with as_customer(scope=Scope.REQUEST) as scope:
                session = await scope.get(AsyncSession)
                count = await session.scalar(
                    select(func.count())
                    .select_from(orders_table)
                    .where(orders_table.c.customer_id == customer.user_id)
                )
                in_stock = (
                    (
                        await session.execute(
                            select(products_table.c.id)
                            .where(products_table.c.stock_on_hand >= 10)
                            .order_by(products_table.c.sku)
                            .limit(6)
                        )
                    )
                    .scalars()
                    .all()
                )
            if count or len(in_stock) < 6:
                return 0
            placed = []
            for first in range(0, 6, 2):
                async with as_customer(scope=Scope.REQUEST) as scope:
                    lines = (
                        PlaceOrderLine(product_id=in_stock[first], quantity=1),
                        PlaceOrderLine(product_id=in_stock[first + 1], quantity=2),
                    )
                    result = await (await scope.get(PlaceOrder))(PlaceOrderRequest(lines=lines))
                    placed.append(uuid.UUID(result.response["id"]))
            # One stays pending, one is paid, one is paid and shipped.
            for order_id in placed[1:]:
                async with as_customer(scope=Scope.REQUEST) as scope:
                    pay = await scope.get(PayOrder)
                    await pay(PayOrderRequest(order_id=order_id, card_number=APPROVED_CARD))
            async with as_staff(scope=Scope.REQUEST) as scope:
                await (await scope.get(ShipOrder))(ShipOrderRequest(order_id=placed[2]))
            return len(placed)
        finally:
            await as_customer.close()
            await as_staff.close()


DEMO_PASSWORD = "demo-password-2024"  # noqa: S105 - documented demo accounts, never in production  # nosec B105


def seed_demo(args: argparse.Namespace) -> int:
    settings = load_settings()
    if settings.app.env == "production" and not args.allow_production:
        print(  # noqa: T201
            "refusing to create demo accounts with a published password in production "
            "(APP_ENV=production); pass --allow-production if you really mean it",
            file=sys.stderr,
        )
        return 2
    password = os.environ.get("APP_DEMO_PASSWORD", DEMO_PASSWORD)
    seeder = DemoSeeder(
        settings, password, shopper_count=args.shoppers, product_count=args.products
    )
    result = asyncio.run(seeder.run())
    extra = f", shopper0001 to shopper{args.shoppers:04d}" if args.shoppers else ""
    print(  # noqa: T201
        f"demo data: {result['products_created']} products and {result['orders_created']} orders "
        f"created; accounts admin, staff, customer, customer2{extra} (password: {password})",
        file=sys.stderr,
    )
    return 0
