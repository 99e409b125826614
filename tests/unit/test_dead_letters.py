"""ListDeadLetters, RequeueDeadLetter and RecordDeadLetter against autospecced ports."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from unittest.mock import Mock, create_autospec
from uuid import UUID, uuid4

import pytest

from app.operations.application.commands.record_dead_letter import RecordDeadLetter
from app.operations.application.commands.requeue_dead_letter import (
    RequeueDeadLetter,
    RequeueDeadLetterRequest,
)
from app.operations.application.errors import AlreadyRequeuedError, DeadLetterNotFoundError
from app.operations.application.ports.dead_letters import (
    DeadLetterStore,
    DeadLetterView,
    FailedTask,
    TaskQueue,
)
from app.operations.application.queries.list_dead_letters import (
    ListDeadLetters,
    ListDeadLettersRequest,
)
from app.shared.application.actor import Actor, ActorProvider
from app.shared.application.errors import AuthenticationError, AuthorizationError
from app.shared.application.pagination import Page
from app.shared.application.ports import Clock, TransactionManager
from app.shared.domain.errors import ConflictError, NotFoundError
from app.shared.domain.role import Role

FAILED_AT = datetime(2024, 6, 1, 11, 0, tzinfo=UTC)
NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
DEAD_LETTER_ID = UUID("44444444-4444-4444-4444-444444444444")
KWARGS: dict[str, Any] = {"event_id": "e-1", "order_id": "o-1", "amount": "10.00"}


def make_view(**overrides: Any) -> DeadLetterView:
    view = DeadLetterView(
        id=str(DEAD_LETTER_ID),
        task_id="task-old",
        task_name="notifications.send_payment_receipt",
        kwargs=dict(KWARGS),
        error_type="SMTPResponseException",
        error_message="550 Mailbox unavailable",
        retries=5,
        failed_at=FAILED_AT,
        requeued_at=None,
        requeued_task_id=None,
    )
    view.update(overrides)  # type: ignore[typeddict-item]
    return view


@dataclass
class Ports:
    """Every port of the operations use cases, autospecced, plus a log of calls in order."""

    actors: Any = field(default_factory=lambda: create_autospec(ActorProvider, instance=True))
    store: Any = field(default_factory=lambda: create_autospec(DeadLetterStore, instance=True))
    queue: Any = field(default_factory=lambda: create_autospec(TaskQueue, instance=True))
    transaction: Any = field(
        default_factory=lambda: create_autospec(TransactionManager, instance=True)
    )
    clock: Any = field(default_factory=lambda: create_autospec(Clock, instance=True))
    calls: Mock = field(default_factory=Mock)

    def __post_init__(self) -> None:
        self.act_as(Role.ADMIN)
        self.clock.now.return_value = NOW
        self.store.get.return_value = make_view()
        self.store.list.return_value = Page(items=[make_view()], next_cursor="c-2")
        self.store.record.return_value = DEAD_LETTER_ID
        self.queue.send.return_value = "task-new"
        for name in ("actors", "store", "queue", "transaction"):
            self.calls.attach_mock(getattr(self, name), name)

    def act_as(self, role: Role) -> None:
        self.actors.current.return_value = Actor(uuid4(), role)

    def order(self) -> list[str]:
        return [name for name, _, _ in self.calls.mock_calls if "." in name]


@pytest.fixture
def ports() -> Ports:
    return Ports()


NON_ADMINS = [Role.CUSTOMER, Role.STAFF]
ADMINS = [Role.ADMIN, Role.SUPER_ADMIN]


# --- ListDeadLetters ---------------------------------------------------------------------------


def list_dead_letters(ports: Ports) -> ListDeadLetters:
    return ListDeadLetters(ports.actors, ports.store)


@pytest.mark.parametrize("role", ADMINS)
async def test_list_returns_the_stores_page_to_admins(ports: Ports, role: Role) -> None:
    ports.act_as(role)

    page = await list_dead_letters(ports)(ListDeadLettersRequest())

    assert page is ports.store.list.return_value
    ports.store.list.assert_awaited_once_with(pending_only=True, limit=50, cursor=None)


async def test_list_passes_the_filter_and_cursor_through(ports: Ports) -> None:
    await list_dead_letters(ports)(
        ListDeadLettersRequest(pending_only=False, limit=10, cursor="c-1")
    )

    ports.store.list.assert_awaited_once_with(pending_only=False, limit=10, cursor="c-1")


@pytest.mark.parametrize("role", NON_ADMINS)
async def test_list_is_forbidden_below_admin(ports: Ports, role: Role) -> None:
    ports.act_as(role)

    with pytest.raises(AuthorizationError):
        await list_dead_letters(ports)(ListDeadLettersRequest())

    ports.store.list.assert_not_awaited()


async def test_list_lets_an_authentication_error_through(ports: Ports) -> None:
    ports.actors.current.side_effect = AuthenticationError("Not logged in.")

    with pytest.raises(AuthenticationError):
        await list_dead_letters(ports)(ListDeadLettersRequest())

    ports.store.list.assert_not_awaited()


@pytest.mark.parametrize(
    ("asked", "used"),
    [(-5, 1), (0, 1), (1, 1), (2, 2), (50, 50), (199, 199), (200, 200), (201, 200), (10**6, 200)],
)
async def test_list_clamps_the_limit_to_1_through_200(ports: Ports, asked: int, used: int) -> None:
    await list_dead_letters(ports)(ListDeadLettersRequest(limit=asked))

    assert ports.store.list.call_args.kwargs["limit"] == used


def test_list_max_limit_is_200() -> None:
    assert ListDeadLetters.MAX_LIMIT == 200


# --- RequeueDeadLetter -------------------------------------------------------------------------


def requeue(ports: Ports) -> RequeueDeadLetter:
    return RequeueDeadLetter(ports.actors, ports.store, ports.queue, ports.transaction, ports.clock)


REQUEST = RequeueDeadLetterRequest(dead_letter_id=DEAD_LETTER_ID)


@pytest.mark.parametrize("role", ADMINS)
async def test_requeue_sends_the_stored_task_marks_it_and_commits(ports: Ports, role: Role) -> None:
    ports.act_as(role)

    response = await requeue(ports)(REQUEST)

    assert response == {"task_id": "task-new"}
    ports.store.get.assert_awaited_once_with(DEAD_LETTER_ID, for_update=True)
    ports.queue.send.assert_awaited_once_with("notifications.send_payment_receipt", KWARGS)
    ports.store.mark_requeued.assert_awaited_once_with(DEAD_LETTER_ID, task_id="task-new", at=NOW)
    ports.transaction.commit.assert_awaited_once_with()


async def test_requeue_locks_sends_marks_then_commits(ports: Ports) -> None:
    await requeue(ports)(REQUEST)

    assert ports.order() == [
        "actors.current",
        "store.get",
        "queue.send",
        "store.mark_requeued",
        "transaction.commit",
    ]


@pytest.mark.parametrize("role", NON_ADMINS)
async def test_requeue_is_forbidden_below_admin(ports: Ports, role: Role) -> None:
    ports.act_as(role)

    with pytest.raises(AuthorizationError):
        await requeue(ports)(REQUEST)

    ports.store.get.assert_not_awaited()
    ports.queue.send.assert_not_awaited()
    ports.store.mark_requeued.assert_not_awaited()
    ports.transaction.commit.assert_not_awaited()


async def test_requeue_of_an_unknown_id_is_not_found(ports: Ports) -> None:
    ports.store.get.return_value = None

    with pytest.raises(DeadLetterNotFoundError) as raised:
        await requeue(ports)(REQUEST)

    assert isinstance(raised.value, NotFoundError)
    assert raised.value.code == "dead_letter_not_found"
    ports.queue.send.assert_not_awaited()
    ports.store.mark_requeued.assert_not_awaited()
    ports.transaction.commit.assert_not_awaited()


async def test_requeue_of_an_already_requeued_letter_conflicts_and_sends_nothing(
    ports: Ports,
) -> None:
    ports.store.get.return_value = make_view(requeued_at=FAILED_AT, requeued_task_id="task-prev")

    with pytest.raises(AlreadyRequeuedError) as raised:
        await requeue(ports)(REQUEST)

    assert isinstance(raised.value, ConflictError)
    assert raised.value.code == "dead_letter_already_requeued"
    assert raised.value.context == {"requeued_task_id": "task-prev"}
    ports.queue.send.assert_not_awaited()
    ports.store.mark_requeued.assert_not_awaited()
    ports.transaction.commit.assert_not_awaited()


async def test_requeue_does_not_mark_or_commit_when_sending_fails(ports: Ports) -> None:
    ports.queue.send.side_effect = ConnectionError("broker down")

    with pytest.raises(ConnectionError):
        await requeue(ports)(REQUEST)

    ports.store.mark_requeued.assert_not_awaited()
    ports.transaction.commit.assert_not_awaited()


# --- RecordDeadLetter --------------------------------------------------------------------------


FAILED = FailedTask(
    task_id="task-old",
    task_name="notifications.send_payment_receipt",
    kwargs=dict(KWARGS),
    error_type="SMTPResponseException",
    error_message="550 Mailbox unavailable",
    retries=5,
)


def record(ports: Ports) -> RecordDeadLetter:
    return RecordDeadLetter(ports.store, ports.transaction, ports.clock)


async def test_record_stores_the_failed_task_at_now_commits_and_returns_its_id(
    ports: Ports,
) -> None:
    dead_letter_id = await record(ports)(FAILED)

    assert dead_letter_id == str(DEAD_LETTER_ID)
    ports.store.record.assert_awaited_once_with(FAILED, at=NOW)
    ports.transaction.commit.assert_awaited_once_with()
    assert ports.order() == ["store.record", "transaction.commit"]


async def test_record_needs_no_actor(ports: Ports) -> None:
    await record(ports)(FAILED)

    ports.actors.current.assert_not_awaited()


async def test_record_does_not_commit_when_storing_fails(ports: Ports) -> None:
    ports.store.record.side_effect = RuntimeError("database down")

    with pytest.raises(RuntimeError):
        await record(ports)(FAILED)

    ports.transaction.commit.assert_not_awaited()
