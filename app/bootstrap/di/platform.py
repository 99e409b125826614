"""Process-wide resources (APP scope, closed on shutdown) and the per-request unit of work."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import timedelta

from celery import Celery
from dishka import Provider, Scope, alias, from_context, provide
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.bootstrap.settings import Settings
from app.bootstrap.telemetry import Tracing
from app.bootstrap.worker.celery_app import create_celery
from app.bootstrap.worker.sides import EVENT_HANDLERS
from app.catalog.infrastructure.constraints import CATALOG_CONSTRAINT_ERRORS
from app.identity.infrastructure.constraints import IDENTITY_CONSTRAINT_ERRORS
from app.ordering.infrastructure.order_metrics import OrderEventMetrics
from app.shared.application.idempotency import IdempotencyStore
from app.shared.application.inbox import EventInbox
from app.shared.application.jobs import JobLock
from app.shared.application.ports import Clock, TransactionManager
from app.shared.application.rate_limit import RateLimiter, RateLimitRule
from app.shared.infrastructure.cache import CacheRedis, NearCache, VersionedCache
from app.shared.infrastructure.cache_invalidations import InvalidationListener
from app.shared.infrastructure.celery_publisher import CeleryEventPublisher
from app.shared.infrastructure.clock import SystemClock
from app.shared.infrastructure.database import (
    AutocommitEngine,
    ReadConnections,
    SessionSlot,
    autocommit,
    create_engine,
    create_session_factory,
)
from app.shared.infrastructure.idempotency import SqlaIdempotencyStore
from app.shared.infrastructure.inbox import SqlaEventInbox
from app.shared.infrastructure.job_lock import RedisJobLock
from app.shared.infrastructure.outbox_fast_path import OutboxFastPath
from app.shared.infrastructure.outbox_relay import OutboxRelay
from app.shared.infrastructure.rate_limiter import LimitsRateLimiter
from app.shared.infrastructure.readiness import ReadinessChecker
from app.shared.infrastructure.redis import create_redis
from app.shared.infrastructure.transaction import (
    CommittedEventObservers,
    ConstraintErrors,
    SqlaTransactionManager,
)


class PlatformProvider(Provider):
    settings = from_context(provides=Settings, scope=Scope.APP)
    tracing = from_context(provides=Tracing, scope=Scope.APP)
    clock = provide(SystemClock, provides=Clock, scope=Scope.APP)

    @provide(scope=Scope.APP)
    async def engine(self, settings: Settings, tracing: Tracing) -> AsyncIterator[AsyncEngine]:
        db = settings.db
        engine = create_engine(
            db.url,
            pool_size=db.pool_size,
            max_overflow=db.max_overflow,
            pool_timeout=db.pool_timeout,
            pool_busy_timeout=db.pool_busy_timeout,
            pool_recycle=db.pool_recycle,
            connect_timeout=db.connect_timeout,
            statement_timeout_ms=db.statement_timeout_ms,
            application_name=settings.app.name,
            transaction_pooling=db.transaction_pooling,
            pool_pre_ping=db.pool_pre_ping,
            echo=db.echo,
        )
        tracing.instrument_engine(engine)
        yield engine
        await engine.dispose()

    @provide(scope=Scope.APP)
    def session_factory(self, engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
        return create_session_factory(engine)

    @provide(scope=Scope.APP)
    def autocommit_engine(self, engine: AsyncEngine) -> AutocommitEngine:
        return autocommit(engine)

    @provide(scope=Scope.REQUEST)
    def session_slot(self) -> SessionSlot:
        return SessionSlot()

    @provide(scope=Scope.REQUEST)
    def read_connections(self, engine: AutocommitEngine, slot: SessionSlot) -> ReadConnections:
        return ReadConnections(engine, slot)

    @provide(scope=Scope.APP)
    async def redis(self, settings: Settings) -> AsyncIterator[Redis]:
        config = settings.redis
        client = create_redis(
            config.url,
            socket_timeout=config.socket_timeout,
            connect_timeout=config.connect_timeout,
            retries=config.retries,
            max_connections=config.max_connections,
        )
        yield client
        await client.aclose()

    @provide(scope=Scope.APP)
    def constraint_errors(self) -> ConstraintErrors:
        # Each bounded context contributes the constraints it names.
        return {**IDENTITY_CONSTRAINT_ERRORS, **CATALOG_CONSTRAINT_ERRORS}

    @provide(scope=Scope.APP)
    def committed_event_observers(self) -> CommittedEventObservers:
        # Each bounded context may count its own committed events (ordering: business metrics).
        return (OrderEventMetrics(),)

    @provide(scope=Scope.APP)
    def readiness(self, engine: AsyncEngine, redis: Redis, settings: Settings) -> ReadinessChecker:
        # Alembic is a quarter of a second of imports that workers never need: only here. The
        # heads are read once per process (the API resolves this at start-up), never per probe.
        from app.bootstrap.migrations import CodeRevisions, schema_not_behind  # noqa: PLC0415

        return ReadinessChecker(
            engine,
            redis,
            timeout=settings.app.readiness_timeout,
            schema=schema_not_behind(engine, CodeRevisions.load()),
        )

    @provide(scope=Scope.REQUEST)
    async def session(
        self, factory: async_sessionmaker[AsyncSession], slot: SessionSlot
    ) -> AsyncIterator[AsyncSession]:
        # One session per request, made only when a repository or the unit of work asks for it;
        # never committed here (interactors commit), rolled back on close.
        async with factory() as session:
            slot.session = session
            yield session

    @provide(scope=Scope.APP)
    async def cache_redis(self, redis: Redis, settings: Settings) -> AsyncIterator[CacheRedis]:
        if settings.cache.redis_url is None:
            yield CacheRedis(redis)
            return
        config = settings.redis
        client = create_redis(
            settings.cache.redis_url,
            socket_timeout=config.socket_timeout,
            connect_timeout=config.connect_timeout,
            retries=config.retries,
            max_connections=config.max_connections,
        )
        yield CacheRedis(client)
        await client.aclose()

    @provide(scope=Scope.APP)
    def near_cache(self, settings: Settings) -> NearCache:
        return NearCache(settings.cache.local_seconds, settings.cache.local_entries)

    @provide(scope=Scope.APP)
    async def invalidation_listener(
        self, redis: CacheRedis, near: NearCache, settings: Settings
    ) -> AsyncIterator[InvalidationListener]:
        # Started by the API (create_app); the near cache answers only while it hears from
        # Redis. A worker's loop runs only during a task, so it never starts one.
        listener = InvalidationListener(redis, near, timeout=settings.cache.operation_timeout)
        yield listener
        await listener.stop()

    @provide(scope=Scope.APP)
    def cache(self, redis: CacheRedis, near: NearCache, settings: Settings) -> VersionedCache:
        config = settings.cache
        return VersionedCache(
            redis,
            ttl_seconds=config.ttl_seconds,
            operation_timeout=config.operation_timeout,
            breaker_seconds=config.breaker_seconds,
            near=near,
        )

    @provide(scope=Scope.APP)
    def celery(self, settings: Settings) -> Iterator[Celery]:
        # In the API only a publisher: the outbox fast path sends tasks by name.
        celery = create_celery(settings)
        yield celery
        celery.close()

    @provide(scope=Scope.APP)
    def outbox_relay(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        celery: Celery,
        settings: Settings,
    ) -> OutboxRelay:
        publisher = CeleryEventPublisher(
            celery, EVENT_HANDLERS, timeout=settings.celery.publish_timeout
        )
        return OutboxRelay(session_factory, publisher)

    @provide(scope=Scope.APP)
    async def outbox_fast_path(
        self, relay: OutboxRelay, settings: Settings
    ) -> AsyncIterator[OutboxFastPath]:
        fast_path = OutboxFastPath(relay, enabled=settings.celery.fast_path)
        yield fast_path
        await fast_path.drain()

    job_lock = provide(RedisJobLock, provides=JobLock, scope=Scope.APP)
    inbox = provide(SqlaEventInbox, provides=EventInbox, scope=Scope.REQUEST)

    @provide(scope=Scope.REQUEST)
    def transaction(
        self,
        session: AsyncSession,
        constraint_errors: ConstraintErrors,
        fast_path: OutboxFastPath,
        observers: CommittedEventObservers,
    ) -> SqlaTransactionManager:
        return SqlaTransactionManager(session, constraint_errors, fast_path, observers)

    transaction_port = alias(source=SqlaTransactionManager, provides=TransactionManager)

    @provide(scope=Scope.APP)
    def rate_limiter(self, redis: Redis, settings: Settings) -> RateLimiter:
        limits = settings.rate_limit
        return LimitsRateLimiter(
            redis,
            {
                RateLimitRule.LOGIN_PER_ACCOUNT_AND_ADDRESS: limits.login_per_account_and_address,
                RateLimitRule.CHANGE_PASSWORD_PER_USER: limits.change_password_per_user,
                RateLimitRule.WRONG_PASSWORD_PER_USER: limits.wrong_password_per_user,
                RateLimitRule.LOGIN_PER_ADDRESS: limits.login_per_address,
                RateLimitRule.SIGN_UP_PER_ADDRESS: limits.sign_up_per_address,
                RateLimitRule.PLACE_ORDER_PER_USER: limits.place_order_per_user,
                RateLimitRule.PLACE_ORDER_PER_ADDRESS: limits.place_order_per_address,
                RateLimitRule.LIST_PRODUCTS_PER_ADDRESS: limits.list_products_per_address,
                RateLimitRule.PAY_ORDER_PER_USER: limits.pay_order_per_user,
                RateLimitRule.DECLINED_PAYMENT_PER_USER: limits.declined_payment_per_user,
            },
            enabled=limits.enabled,
            operation_timeout=limits.operation_timeout,
            ipv6_prefix=limits.ipv6_prefix,
        )

    @provide(scope=Scope.REQUEST)
    def idempotency(
        self, session: AsyncSession, clock: Clock, settings: Settings
    ) -> IdempotencyStore:
        retention = timedelta(seconds=settings.idempotency.retention_seconds)
        return SqlaIdempotencyStore(session, clock, retention=retention)
