"""Operator CLI: ``python -m app <command>`` (also installed as ``fastapi-platform``).

Commands: ``api`` (gunicorn), ``worker`` and ``beat`` (Celery), ``worker-check`` (exec probe),
``migrate`` (waits for the database, then upgrades), ``wait-for-schema`` (init containers: waits
until the schema is not behind this code), ``makemigration``, ``create-super-admin``,
``seed-demo``, ``smtp-sink``, and ``dev`` (embedded servers, migrations, demo data, then every
process under one supervisor, for ``make run``).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from collections.abc import Callable, Sequence
from importlib import import_module
from typing import NoReturn

from app.bootstrap.settings import (
    DatabaseSettings,
    ServerSettings,
    SettingsError,
    load_section,
    load_settings,
)
from app.shared.domain.errors import DomainError


def _api(_: argparse.Namespace) -> NoReturn:
    # Check every setting here, where a bad one exits 2 with the variables named, rather than
    # inside gunicorn's workers, which would crash-loop.
    problems = []
    for load in (load_settings, lambda: load_section(ServerSettings)):
        try:
            load()
        except SettingsError as error:
            problems.append(str(error).removeprefix("Invalid configuration:\n  "))
    if problems:
        raise SettingsError("Invalid configuration:\n  " + "\n  ".join(problems))
    gunicorn = [
        sys.executable, "-m", "gunicorn",
        "-c", "python:app.bootstrap.gunicorn_conf",
        "app.bootstrap.api:create_app()",
    ]  # fmt: skip
    # exec: gunicorn becomes this process, so it gets the container's signals directly.
    os.execv(sys.executable, gunicorn)  # noqa: S606 - fixed argv  # nosec B606


def _direct_database() -> DatabaseSettings:
    """Migrations hold a session-level advisory lock across their transactions: a transaction
    pooler would hand their statements to different server connections."""
    db = load_section(DatabaseSettings)
    if db.transaction_pooling:
        raise SettingsError(
            "Invalid configuration:\n  APP_DB_TRANSACTION_POOLING: migrations need a direct "
            "connection; point APP_DB_URL at PostgreSQL itself (not PgBouncer) and leave this false"
        )
    return db


def _migrate(args: argparse.Namespace) -> int:
    from app.bootstrap.migrations import migrate_when_ready  # noqa: PLC0415 - alembic on demand

    migrate_when_ready(_direct_database().url, args.revision, wait=args.wait)
    print(f"database migrated to {args.revision}", file=sys.stderr)  # noqa: T201
    return 0


def _wait_for_schema(args: argparse.Namespace) -> int:
    from app.bootstrap.migrations import wait_for_schema  # noqa: PLC0415 - alembic on demand

    found = asyncio.run(wait_for_schema(load_section(DatabaseSettings), args.wait))
    print(found, file=sys.stderr)  # noqa: T201
    return 0


def _makemigration(args: argparse.Namespace) -> int:
    from app.bootstrap.migrations import make_revision  # noqa: PLC0415

    make_revision(args.message, _direct_database().url)
    return 0


def _create_super_admin(args: argparse.Namespace) -> int:
    password = os.environ.get("APP_SUPER_ADMIN_PASSWORD") or getpass.getpass("Password: ")
    result = asyncio.run(_run_create_super_admin(args.username, args.email, password))
    print(f"super admin created: {result}")  # noqa: T201
    return 0


async def _run_create_super_admin(username: str, email: str, password: str) -> str:
    from dishka import Scope, make_async_container  # noqa: PLC0415

    from app.bootstrap.di.identity import IdentityProviderSet  # noqa: PLC0415
    from app.bootstrap.di.platform import PlatformProvider  # noqa: PLC0415
    from app.bootstrap.mapping import map_all  # noqa: PLC0415
    from app.bootstrap.settings import Settings  # noqa: PLC0415
    from app.bootstrap.telemetry import Tracing  # noqa: PLC0415
    from app.identity.application.commands.create_super_admin import (  # noqa: PLC0415
        CreateSuperAdmin,
        CreateSuperAdminRequest,
    )

    map_all()
    container = make_async_container(
        PlatformProvider(),
        IdentityProviderSet(),
        context={Settings: load_settings(), Tracing: Tracing(None)},
        skip_validation=True,  # no HTTP request in a CLI scope
    )
    try:
        async with container(scope=Scope.REQUEST) as scope:
            interactor = await scope.get(CreateSuperAdmin)
            response = await interactor(
                CreateSuperAdminRequest(username=username, email=email, password=password)
            )
            return response["id"]
    finally:
        await container.close()


def _deferred(module: str, name: str) -> Callable[[argparse.Namespace], int]:
    """A command whose module (and its dependencies: Celery, honcho, aiosmtpd) is imported only
    when that command runs, so ``api`` and ``migrate`` start fast and work in slim images."""

    def handler(args: argparse.Namespace) -> int:
        command: Callable[[argparse.Namespace], int] = getattr(import_module(module), name)
        return command(args)

    return handler


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m app", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser(
        "api", help="serve the API with gunicorn (APP_SERVER_* settings)"
    ).set_defaults(handler=_api)
    migrate = commands.add_parser("migrate", help="wait for the database, then upgrade it")
    migrate.add_argument("--revision", default="head")
    migrate.add_argument(
        "--wait", type=float, default=60.0, help="seconds to wait for the database"
    )
    migrate.set_defaults(handler=_migrate)
    schema = commands.add_parser(
        "wait-for-schema",
        help="wait until the database's schema is not behind this code (init containers)",
    )
    schema.add_argument(
        "--wait", type=float, default=300.0, help="seconds to wait at most (default 300)"
    )
    schema.set_defaults(handler=_wait_for_schema)
    revision = commands.add_parser("makemigration", help="autogenerate a migration")
    revision.add_argument("message")
    revision.set_defaults(handler=_makemigration)
    admin = commands.add_parser(
        "create-super-admin",
        help="create a super admin (password from APP_SUPER_ADMIN_PASSWORD or a prompt)",
    )
    admin.add_argument("--username", required=True)
    admin.add_argument("--email", required=True)
    admin.set_defaults(handler=_create_super_admin)
    worker = commands.add_parser("worker", help="run a Celery worker (APP_CELERY_* settings)")
    worker.add_argument("--concurrency", type=int, default=0, help="0: APP_CELERY_CONCURRENCY")
    worker.add_argument("--pool", default="prefork", choices=["prefork", "solo", "threads"])
    worker.add_argument("--queues", default="", help="comma-separated; default: every queue")
    worker.add_argument(
        "--metrics-port", type=int, default=-1, help="-1: APP_CELERY_METRICS_PORT; 0: none"
    )
    worker.set_defaults(handler=_deferred("app.bootstrap.worker.commands", "run_worker"))
    check = commands.add_parser(
        "worker-check", help="exit 0 if the worker's heartbeat is fresh (for exec probes)"
    )
    check.add_argument(
        "--max-age", type=float, default=0, help="0: 3 x APP_CELERY_HEARTBEAT_SECONDS"
    )
    check.set_defaults(handler=_deferred("app.bootstrap.worker.commands", "check_worker"))
    beat = commands.add_parser("beat", help="run the periodic-job scheduler")
    beat.set_defaults(handler=_deferred("app.bootstrap.worker.commands", "run_beat"))
    sink = commands.add_parser("smtp-sink", help="a local SMTP server that saves mail as files")
    sink.add_argument("--host", default="127.0.0.1")
    sink.add_argument("--port", type=int, default=1025)
    sink.add_argument("--mailbox", default=".local/mailbox")
    sink.set_defaults(handler=_deferred("app.bootstrap.devtools.smtp_sink", "run_smtp_sink"))
    seed = commands.add_parser(
        "seed-demo", help="idempotently add demo products, accounts and orders (not in production)"
    )
    seed.add_argument("--allow-production", action="store_true")
    seed.add_argument(
        "--shoppers", type=int, default=0, metavar="N",
        help="also N customers shopper0001... for load tests (make loadtest)",
    )  # fmt: skip
    seed.add_argument("--products", type=int, default=300, metavar="N", help="catalog size")
    seed.set_defaults(handler=_deferred("app.bootstrap.devtools.seed", "seed_demo"))
    dev = commands.add_parser("dev", help="local run: embedded servers when no URLs are set")
    dev.add_argument("--data-dir", default=".local")
    dev.add_argument("--no-seed", action="store_true", help="skip the demo data")
    dev.set_defaults(handler=_deferred("app.bootstrap.devtools.dev", "run_dev"))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except SettingsError as error:
        print(error, file=sys.stderr)  # noqa: T201
        return 2
    except DomainError as error:  # a rule said no (e.g. the username is taken): no traceback
        print(f"error: {error.detail} ({error.code})", file=sys.stderr)  # noqa: T201
        return 1
