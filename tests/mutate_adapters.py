"""``make mutate-adapters``: mutation testing of the infrastructure adapters against the tests
that run them on real PostgreSQL and Redis.

    python -m tests.mutate_adapters [--max-children N] [MUTANT ...]

mutmut reads ``[tool.mutmut]`` from the pyproject.toml of the directory it runs in and works in
its ``mutants/``; the project's own table and directory are ``make mutate``'s. This run gets a
scratch copy instead, ``.local/mutate-adapters/``: ``app/``, ``tests/`` and a pyproject.toml
whose ``[tool.mutmut]`` mutates ``ADAPTERS`` only, with ``TESTS`` as the selection. The copy is
made afresh on every run, so no result survives a change of code or tests; with mutant names,
only those are run again, in the copy kept from the last run, against the current tests.

The servers are ``TEST_DATABASE_URL`` and ``TEST_REDIS_URL``, or embedded ones started here
once for the whole run when unset (not once per mutant, as the harness would). mutmut forks a
process per mutant, ``--max-children`` at once, and each runs a pytest session of its own: a
database of its own (the harness's session fixture), but Redis is flushed before every test,
so each process takes one of ``--max-children`` database indexes, TEST_REDIS_URL's and the ones
above it, under a file lock (``pytest_configure`` below: this module is also the pytest plugin
those sessions load). A process killed at its timeout leaves its database behind: the run
notes every database its sessions create and drops those left at the end.

Exit status: mutmut's. ``python -m tests.mutation_report --workdir .local/mutate-adapters
--accepted tests/mutants-accepted-adapters.toml`` reports (the make target runs both).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import json
import os
import shutil
import subprocess  # nosec B404 - runs the venv's mutmut on the scratch copy
import sys
import tempfile
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest

ROOT = Path(__file__).resolve().parents[1]
WORKDIR = ROOT / ".local" / "mutate-adapters"
MUTMUT = Path(sys.executable).with_name("mutmut")

# The adapters: the outbox, its relay and the API's fast path, the idempotency store, the cache,
# the unit of work (which writes the outbox) and the inbox (the consumer's deduplication).
ADAPTERS = [
    f"app/shared/infrastructure/{name}.py"
    for name in (
        "outbox",
        "outbox_relay",
        "outbox_fast_path",
        "idempotency",
        "cache",
        "transaction",
        "inbox",
    )
]
# The tests that reach them: each mutant's process runs those of them that called the mutated
# function (mutmut's stats), fastest first, up to the first failure. No worker or beat
# processes (seconds each to start) and none that takes the Redis index above its own.
TESTS = [
    "tests/unit/test_versioned_cache.py",
    "tests/integration/test_versioned_cache_redis.py",
    "tests/integration/test_outbox_relay.py",
    "tests/integration/test_event_inbox.py",
    "tests/integration/test_idempotency_store.py",
    "tests/integration/test_order_persistence.py",
    "tests/integration/test_products_outbox.py",
    "tests/integration/test_orders_idempotency.py",
    "tests/integration/test_catalog_cache.py",
]

# This module, as each mutant's pytest session loads it (not __name__: "__main__" when run).
PLUGIN = "tests.mutate_adapters"
# Read by the plugin in each mutant's pytest session (set by main for the mutmut process).
REDIS_SLOTS = "MUTATE_ADAPTERS_REDIS_URLS"
DATABASES_LOG = "MUTATE_ADAPTERS_DATABASES"


def mutmut_table(adapters: list[str], tests: list[str]) -> str:
    """The scratch copy's ``[tool.mutmut]``."""
    plugin = ["-p", "no:cacheprovider", "-p", PLUGIN]
    lines = [
        "[tool.mutmut]",
        "# Written by tests/mutate_adapters.py for make mutate-adapters (not make mutate's table).",
        'source_paths = ["app"]',
        f"only_mutate = {json.dumps(adapters)}",
        f"pytest_add_cli_args = {json.dumps(plugin)}",
        f"pytest_add_cli_args_test_selection = {json.dumps(tests)}",
        # A mutant's process also creates and migrates its database, which the time measured
        # per test (mutmut's base for the timeout) leaves out: five seconds more than the tests.
        "timeout_constant = 5.0",
    ]
    return "\n".join(lines) + "\n"


def with_mutmut_table(pyproject: str, table: str) -> str:
    """The project's pyproject.toml with its ``[tool.mutmut]`` replaced by ``table``."""
    lines = pyproject.splitlines(keepends=True)
    start = next((n for n, line in enumerate(lines) if line.strip() == "[tool.mutmut]"), None)
    if start is None:
        return pyproject.rstrip("\n") + "\n\n" + table
    end = next((n for n in range(start + 1, len(lines)) if lines[n].startswith("[")), len(lines))
    rest = "".join(lines[:start] + lines[end:]).rstrip("\n")
    return rest + "\n\n" + table


def redis_with_index(url: str, index: int) -> str:
    parts = urlsplit(url)
    if parts.scheme == "unix":  # unix://<socket path>?db=<index>, as EmbeddedRedis gives it
        query = dict(parse_qsl(parts.query)) | {"db": str(index)}
        return f"unix://{parts.path}?{urlencode(query)}"
    return urlunsplit(parts._replace(path=f"/{index}"))


def redis_slots(url: str, count: int) -> list[str]:
    """``count`` database indexes: the URL's and the ones above it."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        base = int(dict(parse_qsl(parts.query)).get("db", 0))
    else:
        base = int(parts.path.strip("/") or 0)
    return [redis_with_index(url, (base + n) % 16) for n in range(count)]


def make_copy(workdir: Path) -> None:
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "app", workdir / "app", ignore=ignore)
    refresh_tests(workdir)
    table = mutmut_table(ADAPTERS, TESTS)
    (workdir / "pyproject.toml").write_text(
        with_mutmut_table((ROOT / "pyproject.toml").read_text(), table)
    )


def refresh_tests(workdir: Path) -> None:
    shutil.rmtree(workdir / "tests", ignore_errors=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "tests", workdir / "tests", ignore=ignore)


@contextlib.contextmanager
def servers(scratch: Path) -> Iterator[tuple[str, str]]:
    """TEST_DATABASE_URL and TEST_REDIS_URL, or embedded servers for the whole run."""
    from app.bootstrap.devtools.embedded import EmbeddedPostgres, EmbeddedRedis  # noqa: PLC0415

    with contextlib.ExitStack() as stack:
        database = os.environ.get("TEST_DATABASE_URL")
        if not database:
            postgres = EmbeddedPostgres(scratch / "pg")
            database = postgres.start()
            stack.callback(postgres.stop)
        redis = os.environ.get("TEST_REDIS_URL")
        if not redis:
            embedded = EmbeddedRedis(scratch / "redis", persistent=False)
            redis = embedded.start()
            stack.callback(embedded.stop)
        yield database, redis


def drop_leftovers(server_url: str, log: Path) -> int:
    """Drop the databases that sessions created and did not drop (a mutant timed out)."""
    if not log.exists():
        return 0
    names = sorted({line.strip() for line in log.read_text().splitlines() if line.strip()})
    if not names:
        return 0
    import asyncpg  # noqa: PLC0415
    from sqlalchemy.engine import make_url  # noqa: PLC0415

    admin = make_url(server_url).set(drivername="postgresql")
    dsn = admin.render_as_string(hide_password=False)

    async def drop() -> int:
        connection = await asyncpg.connect(dsn)
        try:
            left = await connection.fetch(
                "SELECT datname FROM pg_database WHERE datname = ANY($1::text[])", names
            )
            for row in left:
                await connection.execute(f'DROP DATABASE IF EXISTS "{row["datname"]}" WITH (FORCE)')
            return len(left)
        finally:
            await connection.close()

    return asyncio.run(drop())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-children", type=int, default=2)
    parser.add_argument("--workdir", type=Path, default=WORKDIR)
    parser.add_argument("--mutmut", type=Path, default=MUTMUT)
    parser.add_argument("mutants", nargs="*", help="run only these again (mutmut's names)")
    args = parser.parse_args(argv)
    workdir: Path = args.workdir.resolve()
    if args.mutants and (workdir / "mutants").is_dir():
        refresh_tests(workdir)
    else:
        make_copy(workdir)
    log = workdir / "databases.txt"
    log.unlink(missing_ok=True)
    with (
        tempfile.TemporaryDirectory(prefix="fp-mutate-") as scratch,
        servers(Path(scratch)) as (
            database,
            redis,
        ),
    ):
        environment = {
            **os.environ,
            "TEST_DATABASE_URL": database,
            "TEST_REDIS_URL": redis,
            REDIS_SLOTS: " ".join(redis_slots(redis, args.max_children)),
            DATABASES_LOG: str(log),
        }
        command = [str(args.mutmut), "run", "--max-children", str(args.max_children)]
        try:
            done = subprocess.run(  # noqa: S603 - fixed arguments  # nosec B603
                [*command, *args.mutants], cwd=workdir, env=environment, check=False
            )
        finally:
            dropped = drop_leftovers(database, log)
            if dropped:
                sys.stdout.write(f"dropped {dropped} database(s) left by timed-out mutants\n")
    return done.returncode


# --- the pytest plugin of each session in the scratch copy ------------------------------------

_slot: IO[str] | None = None


def pytest_configure(config: pytest.Config) -> None:
    """Take a free Redis database index for this session (one per mutant process at once)."""
    global _slot  # noqa: PLW0603 - one slot per process, held for its session
    urls = os.environ.get(REDIS_SLOTS, "").split()
    if not urls:
        return
    locks = Path(os.environ.get(DATABASES_LOG, tempfile.gettempdir())).parent
    for number, url in enumerate(urls):
        handle = (locks / f"redis-slot-{number}.lock").open("w")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            continue
        _slot = handle
        os.environ["TEST_REDIS_URL"] = url
        return
    # More processes than indexes (never with --max-children slots): wait for the first.
    handle = (locks / "redis-slot-0.lock").open("w")
    fcntl.flock(handle, fcntl.LOCK_EX)
    _slot = handle
    os.environ["TEST_REDIS_URL"] = urls[0]


def pytest_unconfigure(config: pytest.Config) -> None:
    global _slot  # noqa: PLW0603
    if _slot is not None:
        _slot.close()  # closing releases the lock
        _slot = None


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(fixturedef: pytest.FixtureDef[Any]) -> Generator[None, Any, Any]:
    """Note each database the harness creates, so the run can drop those a timeout left."""
    result = yield
    log = os.environ.get(DATABASES_LOG)
    if log and fixturedef.argname == "database_url" and isinstance(result, str):
        from sqlalchemy.engine import make_url  # noqa: PLC0415

        with Path(log).open("a") as notes:
            notes.write(f"{make_url(result).database}\n")
    return result


if __name__ == "__main__":
    sys.exit(main())
