"""The SQLAlchemy unit of work.

On commit it writes the domain events of every aggregate it saw to the outbox, in the same
transaction, and once the commit has succeeded hands them to the observers (each context's
business metrics). It translates named-constraint violations into domain errors and stale
versions (optimistic locking) into ConcurrentModificationError.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError
from structlog.stdlib import get_logger

from app.shared.application.errors import ConcurrentModificationError
from app.shared.domain.errors import DomainError
from app.shared.domain.events import AggregateRoot, DomainEvent
from app.shared.infrastructure.outbox import write_events
from app.shared.infrastructure.outbox_fast_path import OutboxFastPath

# Constraint name -> factory of the domain error that the constraint enforces.
ConstraintErrors = Mapping[str, Callable[[], DomainError]]
AfterCommit = Callable[[], Awaitable[None]]
# Told of the events of each successful commit, once: a rolled-back or failed commit tells nothing,
# and a retried command's events are new events of a new commit. Quick and synchronous (a metric).
CommittedEvents = Callable[[Sequence[DomainEvent]], None]
CommittedEventObservers = Sequence[CommittedEvents]

_log = get_logger(__name__)


def violated_constraint(error: IntegrityError) -> str | None:
    # asyncpg's exception (with .constraint_name) is the cause of the DBAPI adapter's error.
    cause = getattr(error.orig, "__cause__", None)
    name = getattr(cause, "constraint_name", None) or getattr(error.orig, "constraint_name", None)
    return name if isinstance(name, str) else None


class SqlaTransactionManager:
    def __init__(
        self,
        session: AsyncSession,
        constraint_errors: ConstraintErrors,
        fast_path: OutboxFastPath | None = None,
        observers: CommittedEventObservers = (),
    ) -> None:
        self._session = session
        self._constraint_errors = constraint_errors
        self._fast_path = fast_path
        self._observers = observers
        self._after_commit: dict[str, AfterCommit] = {}
        self._events: list[DomainEvent] = []

    def after_commit(self, name: str, callback: AfterCommit) -> None:
        """Run ``callback`` once after the next successful commit (e.g. cache invalidation).

        Named, so an adapter registering the same work twice in one unit of work runs it once.
        Failures are logged, never raised: the commit has happened and must be reported as such.
        """
        self._after_commit[name] = callback

    async def flush(self) -> None:
        # Take events before flushing: until then, changed aggregates are held strongly by the
        # session (new or dirty); afterwards the identity map holds them only weakly, and an
        # aggregate nobody else references could vanish with its events.
        self._collect_events()
        try:
            await self._session.flush()
        except IntegrityError as error:
            self._raise_domain_error(error)
            raise
        except StaleDataError as error:
            raise ConcurrentModificationError(
                "This resource was changed by someone else; reload it and try again."
            ) from error

    async def commit(self) -> None:
        await self.flush()
        events, self._events = self._events, []
        await write_events(self._session, sorted(events, key=lambda event: event.occurred_at))
        if events and self._fast_path is not None:
            fast_path, event_ids = self._fast_path, [event.event_id for event in events]

            async def relay() -> None:
                fast_path.submit(event_ids)

            self.after_commit("outbox:fast-path", relay)
        try:
            await self._session.commit()
        except IntegrityError as error:
            self._raise_domain_error(error)
            raise
        finally:
            callbacks, self._after_commit = self._after_commit, {}
        for observer in self._observers if events else ():
            try:
                observer(events)
            except Exception:  # noqa: BLE001 - the commit stands; the observer's failure is logged
                _log.warning("committed_events_observer_failed", exc_info=True)
        for name, callback in callbacks.items():
            try:
                await callback()
            except Exception:  # noqa: BLE001 - the commit stands; the hook's failure is logged
                _log.warning("after_commit_failed", hook=name, exc_info=True)

    def _collect_events(self) -> None:
        for instance in (*self._session.new, *self._session.identity_map.values()):
            if isinstance(instance, AggregateRoot):
                self._events.extend(instance.pull_events())

    def _raise_domain_error(self, error: IntegrityError) -> None:
        """Raise the domain error a known constraint stands for; unknown ones stay as they are."""
        factory = self._constraint_errors.get(violated_constraint(error) or "")
        if factory is not None:
            raise factory() from error
