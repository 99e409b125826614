"""Where a database's Alembic stamp stands against this code: behind, current or ahead."""

from __future__ import annotations

from unittest.mock import AsyncMock, create_autospec

import pytest
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from app.bootstrap.migrations import CodeRevisions
from app.shared.infrastructure.readiness import ReadinessChecker

LINEAR = CodeRevisions(heads=frozenset({"0003"}), known=frozenset({"0001", "0002", "0003"}))
TWO_HEADS = CodeRevisions(
    heads=frozenset({"0003", "0004"}), known=frozenset({"0001", "0003", "0004"})
)


@pytest.mark.parametrize(
    ("revisions", "applied", "state"),
    [
        (LINEAR, set(), "behind"),  # no alembic_version table, or an empty one
        (LINEAR, {"0001"}, "behind"),  # an ancestor of the head
        (LINEAR, {"0002"}, "behind"),
        (LINEAR, {"0003"}, "current"),
        (LINEAR, {"0004_from_a_newer_release"}, "ahead"),  # a revision this code does not know
        (TWO_HEADS, {"0003"}, "behind"),  # one branch not applied yet
        (TWO_HEADS, {"0003", "0004"}, "current"),
        (TWO_HEADS, {"0003", "0005_newer"}, "ahead"),
    ],
)
def test_state_of_a_stamp(revisions: CodeRevisions, applied: set[str], state: str) -> None:
    assert revisions.state_of(applied) == state


def test_the_messages_name_both_sides() -> None:
    assert LINEAR.describe(set()) == (
        "behind: the database is at no revision (never migrated), this code needs 0003"
    )
    assert LINEAR.describe({"0002"}) == "behind: the database is at 0002, this code needs 0003"
    assert LINEAR.describe({"0003"}) == "at head: 0003"
    assert LINEAR.describe({"0009"}) == "ahead of this code (0003): the database is at 0009"


def test_this_codes_migrations_have_one_head_that_it_knows() -> None:
    revisions = CodeRevisions.load()
    assert len(revisions.heads) == 1
    assert revisions.heads <= revisions.known
    assert revisions.state_of(revisions.heads) == "current"


def _checker(schema: AsyncMock) -> ReadinessChecker:
    engine = create_autospec(AsyncEngine, instance=True)
    engine.connect.return_value.__aenter__.return_value.execute = AsyncMock()
    redis = create_autospec(Redis, instance=True)
    return ReadinessChecker(engine, redis, timeout=1.0, schema=schema)


async def test_readiness_asks_about_the_schema_until_it_has_caught_up_then_never_again() -> None:
    schema = AsyncMock(side_effect=[False, False, True, False])
    checker = _checker(schema)
    results = [(await checker.check())["schema"] for _ in range(5)]
    assert results == ["behind", "behind", "ok", "ok", "ok"]
    assert schema.await_count == 3


async def test_a_failing_schema_probe_is_reported_by_kind_and_asked_again() -> None:
    schema = AsyncMock(side_effect=[OSError("refused"), True])
    checker = _checker(schema)
    assert (await checker.check())["schema"] == "error: OSError"
    assert (await checker.check())["schema"] == "ok"
