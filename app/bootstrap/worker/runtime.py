"""One event loop and one DI container per worker process, created after the fork.

Tasks are synchronous Celery functions; each runs its async use case on this process's loop in
a fresh request scope (its own session and unit of work), exactly like an HTTP request.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import TypeVar

from dishka import AsyncContainer, Scope, make_async_container
from sqlalchemy import exc as sqla_errors

from app.bootstrap.di.catalog import CatalogProviderSet
from app.bootstrap.di.identity import IdentityProviderSet
from app.bootstrap.di.notifications import NotificationsProviderSet
from app.bootstrap.di.operations import OperationsProviderSet
from app.bootstrap.di.ordering import OrderingProviderSet
from app.bootstrap.di.platform import PlatformProvider
from app.bootstrap.logging import configure_logging
from app.bootstrap.mapping import map_all
from app.bootstrap.settings import Settings
from app.bootstrap.telemetry import Tracing
from app.shared.infrastructure.outbox_fast_path import OutboxFastPath
from app.shared.presentation.tasks import lost_connection

T = TypeVar("T")


def worker_container(settings: Settings, tracing: Tracing) -> AsyncContainer:
    """Every context's providers, for use cases that run outside an HTTP request."""
    return make_async_container(
        PlatformProvider(),
        IdentityProviderSet(),
        CatalogProviderSet(),
        OrderingProviderSet(),
        NotificationsProviderSet(),
        OperationsProviderSet(),
        context={Settings: settings, Tracing: tracing},
        skip_validation=True,  # HTTP-only providers (the request) are never asked for here
    )


class WorkerRuntime:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._loop: asyncio.AbstractEventLoop | None = None
        self._container: AsyncContainer | None = None
        self._tracing: Tracing | None = None

    def start(self) -> None:
        """Called in each pool process after fork (and lazily in a solo worker)."""
        if self._loop is not None:
            return
        settings = self._settings
        configure_logging(level=settings.log.level, json_format=settings.log.format == "json")
        map_all()
        self._tracing = Tracing.from_env(f"{settings.app.name}-worker")
        self._loop = asyncio.new_event_loop()
        self._container = worker_container(settings, self._tracing)

    def run(self, work: Callable[[AsyncContainer], Awaitable[T]]) -> T:
        self.start()
        loop = self._loop
        assert loop is not None  # noqa: S101 - set by start()
        task = loop.create_task(self._in_scope(work))
        try:
            return loop.run_until_complete(task)
        except sqla_errors.DBAPIError as error:
            if lost_connection(error):  # retried with backoff (TRANSIENT_ERRORS), not dead
                raise ConnectionResetError("the database connection was lost") from error
            raise
        except BaseException:
            # A soft time limit (SoftTimeLimitExceeded, raised by a signal handler) interrupts
            # the loop, not the coroutine: left pending, it would carry on inside the next
            # task's run_until_complete. Cancel it and let its scopes close first (transaction
            # rolled back, connections closed or returned to their pools).
            if not task.done():
                task.cancel()
                with contextlib.suppress(BaseException):
                    loop.run_until_complete(task)
            raise

    async def _in_scope(self, work: Callable[[AsyncContainer], Awaitable[T]]) -> T:
        assert self._container is not None  # noqa: S101
        async with self._container(scope=Scope.REQUEST) as scope:
            result = await work(scope)
        # Relays a task's commits started (fast path) must finish before the loop stops: a
        # relay paused mid-transaction would hold its rows until this process's next task.
        await (await self._container.get(OutboxFastPath)).drain()
        return result

    def stop(self) -> None:
        if self._loop is None or self._container is None:
            return
        self._loop.run_until_complete(self._container.close())
        if self._tracing is not None:
            self._tracing.shutdown()
        self._loop.close()
        self._loop = None
        self._container = None
