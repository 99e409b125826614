"""``python -m loadtests.migration_load [--rows N] [--rate R] [MODE ...]`` (make migration-load).

A migration under steady load, as `helm upgrade` runs one: the previous release keeps serving
while the migration Job changes the schema. On a private platform (loadtests/faults: embedded
PostgreSQL, private Redis, gunicorn, worker and beat) the orders table is seeded with ``--rows``
rows (generate_series, one statement), then an open-loop load of ``--rate`` requests a second
(loadtests/faults/load.py: product reads and listings, orders placed, the customer's own orders)
runs while Alembic applies, through app/migrations/env.py like any revision, a throwaway
revision written to a temporary versions directory (never committed):

- ``concurrent``: a nullable column, then an index built CONCURRENTLY outside the transaction;
- ``plain``: the same column and an index in one transaction, as autogenerate would write it
  (ADD COLUMN's ACCESS EXCLUSIVE lock is then held while the index is built).

Why orders: it is the table that grows without bound (outbox rows and inbox entries are purged),
and it is on the checkout path: every order placed writes it and every "my orders" reads it, so
a lock on it stops the requests that matter most. Its lines live in order_lines, which this
migration does not touch.

For each revision: its duration, and for the requests in flight while it ran, the longest answer
(the stall), the 99th percentile and every answer that was not a success, and whether the new
index is valid. Exit 1 when the concurrent revision misses the goal (any error, a stall of a
second or more, or an invalid index); the plain one is there for contrast and gates nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import asyncpg
from alembic import command
from alembic.script import ScriptDirectory

from app.bootstrap.migrations import alembic_config
from loadtests.faults.load import Load, Outcome, percentile, statuses
from loadtests.faults.platform import Platform, running_platform

MODES: Final = ("concurrent", "plain")
GOAL_STALL_SECONDS: Final = 1.0
WARM_UP_SECONDS: Final = 3.0  # load before the migration starts
COOL_DOWN_SECONDS: Final = 3.0  # and after it ends
VERSIONS: Final = Path(__file__).resolve().parents[1] / "app" / "migrations" / "versions"

_REVISION: Final = '''\
"""migration-load: {doc}"""

import sqlalchemy as sa
from alembic import op

revision = "{revision}"
down_revision = "{down}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("orders", sa.Column("{column}", sa.Text(), nullable=True))
{index}
'''
_CONCURRENT_INDEX: Final = """\
    with op.get_context().autocommit_block():
        op.create_index(
            "{index}", "orders", ["total_amount", "id"], postgresql_concurrently=True
        )"""
_PLAIN_INDEX: Final = """\
    op.create_index("{index}", "orders", ["total_amount", "id"])"""


@dataclass(frozen=True, slots=True)
class Step:
    mode: str  # concurrent | plain
    began: float
    ended: float
    outcomes: list[Outcome]
    index_valid: bool  # a CONCURRENTLY build that failed half-way leaves an invalid index

    @property
    def during(self) -> list[Outcome]:
        """Requests in flight at some moment of the migration."""
        return [o for o in self.outcomes if o.started <= self.ended and o.ended >= self.began]

    @property
    def stall(self) -> float:
        return max((o.ended - o.started for o in self.during), default=0.0)

    @property
    def errors(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.ok]

    def meets_goal(self) -> bool:
        return self.index_valid and not self.errors and self.stall < GOAL_STALL_SECONDS

    def lines(self) -> list[str]:
        before = [o.ended - o.started for o in self.outcomes if o.ended < self.began]
        during = [o.ended - o.started for o in self.during]
        counts = ", ".join(f"{label} {n:,}" for label, n in sorted(statuses(self.outcomes).items()))
        errors = ", ".join(
            f"{o.kind} {o.label}{f' {o.detail}' if o.detail else ''}" for o in self.errors[:10]
        )
        return [
            (
                f"[migration-load] {self.mode}: migration took {self.ended - self.began:.2f} s, "
                f"index {'valid' if self.index_valid else 'INVALID'}"
            ),
            f"  answers: {counts}",
            (
                f"  before it: p99 {percentile(before, 99) * 1000:.0f} ms, "
                f"longest {max(before, default=0.0) * 1000:.0f} ms"
            ),
            (
                f"  during it ({len(during):,} requests): "
                f"p99 {percentile(during, 99) * 1000:.0f} ms, "
                f"longest stall {self.stall * 1000:.0f} ms"
            ),
            f"  errors: {len(self.errors)}{f' ({errors})' if errors else ''}",
        ]


def _direct_url(target: Platform) -> str:
    return f"postgresql+asyncpg://postgres@/postgres?host={target.postgres.socket_dir}"


async def seed_orders(target: Platform, rows: int) -> float:
    """``rows`` delivered orders spread over the load's customers and the past year, in one
    statement; then VACUUM ANALYZE, as autovacuum would have done long since. Seconds taken."""
    started = time.monotonic()
    connection = await asyncpg.connect(target.direct_dsn)
    try:
        customers = [
            row["id"]
            for row in await connection.fetch("SELECT id FROM users WHERE username LIKE 'shopper%'")
        ]
        await connection.execute(
            """
            INSERT INTO orders (id, customer_id, status, total_amount, currency, version,
                                created_at, updated_at, paid_at, delivered_at)
            SELECT gen_random_uuid(), ($2::uuid[])[1 + i % cardinality($2::uuid[])], 'delivered',
                   (i % 100000) / 100.0, 'EUR', 3, at, at, at, at
            FROM generate_series(1, $1::int) AS i
            CROSS JOIN LATERAL (
                SELECT now() - interval '1 second' * (i::bigint * 7919 % 31536000) AS at
            ) AS t
            """,
            rows,
            customers,
        )
        await connection.execute("VACUUM ANALYZE orders")
    finally:
        await connection.close()
    return time.monotonic() - started


def _index_name(mode: str) -> str:
    return f"ix_orders_load_{mode}"


def apply_revision(target: Platform, versions: Path, mode: str) -> None:
    """Write the throwaway revision on top of the current head and upgrade to it, through the
    project's Alembic environment (its lock and statement timeouts included)."""
    config = alembic_config(_direct_url(target))
    config.set_main_option("path_separator", "os")
    config.set_main_option("version_locations", os.pathsep.join([str(VERSIONS), str(versions)]))
    (head,) = ScriptDirectory.from_config(config).get_heads()
    body = (_CONCURRENT_INDEX if mode == "concurrent" else _PLAIN_INDEX).format(
        index=_index_name(mode)
    )
    revision = f"load_{mode}"
    (versions / f"{revision}.py").write_text(
        _REVISION.format(
            doc=f"a nullable column and an index on orders ({mode})",
            revision=revision,
            down=head,
            column=f"load_note_{mode}",
            index=body,
        )
    )
    command.upgrade(config, revision)


async def _index_valid(target: Platform, mode: str) -> bool:
    connection = await asyncpg.connect(target.direct_dsn)
    try:
        valid = await connection.fetchval(
            "SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass($1)",
            _index_name(mode),
        )
    finally:
        await connection.close()
    return bool(valid)


async def measure(target: Platform, versions: Path, mode: str, rate: float) -> Step:
    load = Load(target.shop, rate)
    # Long enough for any migration: the load stops COOL_DOWN_SECONDS after it ends (until).
    load.until = float("inf")
    running = asyncio.create_task(load.run(WARM_UP_SECONDS))
    await asyncio.sleep(WARM_UP_SECONDS)
    began = time.monotonic()
    try:
        await asyncio.to_thread(apply_revision, target, versions, mode)
    finally:
        ended = time.monotonic()
        load.until = ended + COOL_DOWN_SECONDS
        outcomes = await running
    return Step(mode, began, ended, outcomes, await _index_valid(target, mode))


async def migrate_under_load(
    target: Platform, versions: Path, *, rows: int, rate: float, modes: Sequence[str]
) -> list[Step]:
    """Seed, then each mode's revision in turn under load; prints each step's figures."""
    seconds = await seed_orders(target, rows)
    print(f"[migration-load] {rows:,} orders seeded in {seconds:.1f} s", flush=True)  # noqa: T201
    steps = []
    for mode in modes:
        step = await measure(target, versions, mode, rate)
        print("\n".join(step.lines()), flush=True)  # noqa: T201
        steps.append(step)
    return steps


def run(
    *, rows: int, rate: float, modes: Sequence[str], customers: int = 8, products: int = 20
) -> list[Step]:
    """The whole run on a private platform, started and stopped here."""
    with (
        tempfile.TemporaryDirectory(prefix="migration-load-") as scratch,
        running_platform(
            Path(scratch) / "platform", customers=customers, products=products
        ) as target,
    ):
        versions = Path(scratch) / "versions"
        versions.mkdir()
        return asyncio.run(migrate_under_load(target, versions, rows=rows, rate=rate, modes=modes))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").split("\n\n", 1)[-1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--rows", type=int, default=500_000, help="orders seeded before")
    parser.add_argument("--rate", type=float, default=100.0, help="requests per second")
    parser.add_argument(
        "modes", nargs="*", metavar="MODE", help=f"revisions to apply, of {', '.join(MODES)} (all)"
    )
    arguments = parser.parse_args(argv)
    if unknown := [mode for mode in arguments.modes if mode not in MODES]:
        parser.error(f"unknown mode(s) {', '.join(unknown)}: choose among {', '.join(MODES)}")
    print(  # noqa: T201
        f"[migration-load] {platform.node()}: {os.cpu_count()} CPUs; {arguments.rows:,} orders, "
        f"{arguments.rate:.0f} requests/s",
        flush=True,
    )
    steps = run(rows=arguments.rows, rate=arguments.rate, modes=arguments.modes or MODES)
    held = all(step.meets_goal() for step in steps if step.mode == "concurrent")
    print(  # noqa: T201
        f"[migration-load] goal (no error, stall under {GOAL_STALL_SECONDS:.0f} s, index valid) "
        f"with CONCURRENTLY: {'held' if held else 'missed'}",
        flush=True,
    )
    return 0 if held else 1


if __name__ == "__main__":
    sys.exit(main())
