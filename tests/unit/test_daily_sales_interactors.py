"""The daily sales roll-up (the beat job's use case) and its admin read, against autospecced
ports."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from unittest.mock import Mock, call, create_autospec
from uuid import uuid4

import pytest

from app.ordering.application.commands.roll_up_daily_sales import (
    RollUpDailySales,
    RollUpDailySalesRequest,
)
from app.ordering.application.errors import InvalidDateRangeError
from app.ordering.application.ports.sales_ledger import DailySalesReader, SalesLedger
from app.ordering.application.queries.daily_sales import DailySales, DailySalesRequest
from app.shared.application.actor import Actor, ActorProvider
from app.shared.application.errors import AuthorizationError
from app.shared.application.ports import Clock, TransactionManager
from app.shared.domain.role import Role

# Just after midnight: yesterday's late commits are still being rolled up.
NOW = datetime(2026, 3, 1, 0, 5, tzinfo=UTC)


def roll_up_ports(currencies_per_day: int = 2) -> tuple[Any, Any, Any, Mock]:
    ledger: Any = create_autospec(SalesLedger, instance=True)
    ledger.roll_up.return_value = currencies_per_day
    transaction: Any = create_autospec(TransactionManager, instance=True)
    clock: Any = create_autospec(Clock, instance=True)
    clock.now.return_value = NOW
    calls = Mock()
    calls.attach_mock(ledger, "ledger")
    calls.attach_mock(transaction, "transaction")
    return ledger, transaction, clock, calls


async def test_the_roll_up_recomputes_yesterday_then_today_then_commits_once() -> None:
    ledger, transaction, clock, calls = roll_up_ports()
    rows = await RollUpDailySales(ledger, transaction, clock)(RollUpDailySalesRequest())
    assert rows == 4  # two days, two currencies each
    assert calls.mock_calls == [
        call.ledger.roll_up(date(2026, 2, 28)),  # across the month's end
        call.ledger.roll_up(date(2026, 3, 1)),
        call.transaction.commit(),
    ]


@pytest.mark.parametrize(("days_back", "days"), [(0, 1), (1, 2), (3, 4)])
async def test_the_roll_up_covers_today_and_the_days_back_oldest_first(
    days_back: int, days: int
) -> None:
    ledger, transaction, clock, _ = roll_up_ports(currencies_per_day=1)
    rows = await RollUpDailySales(ledger, transaction, clock)(
        RollUpDailySalesRequest(days_back=days_back)
    )
    rolled = [args.args[0] for args in ledger.roll_up.await_args_list]
    assert rows == days
    assert rolled == sorted(rolled)
    assert len(set(rolled)) == days
    assert rolled[-1] == NOW.date()
    assert (rolled[-1] - rolled[0]).days == days_back
    transaction.commit.assert_awaited_once_with()


async def test_a_failing_day_commits_nothing() -> None:
    ledger, transaction, clock, _ = roll_up_ports()
    ledger.roll_up.side_effect = [1, RuntimeError("database gone")]
    with pytest.raises(RuntimeError):
        await RollUpDailySales(ledger, transaction, clock)(RollUpDailySalesRequest())
    transaction.commit.assert_not_awaited()


def read_ports(role: Role) -> tuple[Any, Any]:
    actors: Any = create_autospec(ActorProvider, instance=True)
    actors.current.return_value = Actor(user_id=uuid4(), role=role)
    reader: Any = create_autospec(DailySalesReader, instance=True)
    reader.days.return_value = []
    return actors, reader


@pytest.mark.parametrize(("role", "allowed"), [(Role.STAFF, False), (Role.ADMIN, True)])
async def test_daily_sales_are_for_admins(role: Role, allowed: bool) -> None:
    actors, reader = read_ports(role)
    request = DailySalesRequest(first_day=date(2026, 2, 1), last_day=date(2026, 2, 28))
    if allowed:
        assert await DailySales(actors, reader)(request) == []
        reader.days.assert_awaited_once_with(first_day=date(2026, 2, 1), last_day=date(2026, 2, 28))
    else:
        with pytest.raises(AuthorizationError):
            await DailySales(actors, reader)(request)
        reader.days.assert_not_awaited()


async def test_an_upside_down_range_is_refused_before_reading() -> None:
    actors, reader = read_ports(Role.ADMIN)
    request = DailySalesRequest(first_day=date(2026, 3, 2), last_day=date(2026, 3, 1))
    with pytest.raises(InvalidDateRangeError):
        await DailySales(actors, reader)(request)
    reader.days.assert_not_awaited()


async def test_one_day_is_a_range() -> None:
    actors, reader = read_ports(Role.ADMIN)
    day = date(2026, 3, 1)
    await DailySales(actors, reader)(DailySalesRequest(first_day=day, last_day=day))
    reader.days.assert_awaited_once_with(first_day=day, last_day=day)
