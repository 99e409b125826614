"""Operator CLI: ``python -m app <command>`` (also installed as ``fastapi-platform``).

Commands: ``api`` (gunicorn), ``worker`` and ``beat`` (Celery), ``worker-check`` (exec probe),
``migrate`` (waits for the database, then upgrades), ``makemigration``, ``create-super-admin``,
``seed-demo``, ``smtp-sink``, and ``dev`` (embedded servers, migrations, demo data, then every
process under one supervisor, for ``make run``).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import NoReturn

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

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
    os.execv(sys.executable, gunicorn)  # noqa: S606 - fixed argv


async def _wait_for_database(url: str, wait_seconds: float) -> None:
    """Bounded wait, so a migration Job started beside its database does not fail at once."""
    engine = create_async_engine(url, connect_args={"timeout": 5})
    deadline = time.monotonic() + wait_seconds
    delay = 0.5
    try:
        while (error := await _probe_database(engine)) is not None:
            if time.monotonic() + delay > deadline:
                msg = f"database not reachable after {wait_seconds:.0f}s: {error}"
                raise SystemExit(msg)
            print(f"waiting for the database ({error})...", file=sys.stderr)  # noqa: T201
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
    finally:
        await engine.dispose()


async def _probe_database(engine: AsyncEngine) -> str | None:
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as error:  # noqa: BLE001 - any failure means "not yet"; reported, retried
        return f"{type(error).__name__}: {error}"
    return None


def _migrate(args: argparse.Namespace) -> int:
    from app.bootstrap.migrations import upgrade  # noqa: PLC0415 - alembic only when migrating

    url = load_section(DatabaseSettings).url
    asyncio.run(_wait_for_database(url, args.wait))
    upgrade(url, args.revision)
    print(f"database migrated to {args.revision}", file=sys.stderr)  # noqa: T201
    return 0


def _makemigration(args: argparse.Namespace) -> int:
    from app.bootstrap.migrations import make_revision  # noqa: PLC0415

    make_revision(args.message, load_section(DatabaseSettings).url)
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


def _worker(args: argparse.Namespace) -> int:
    # Before prometheus_client is imported: pool processes write samples here, the main process
    # serves their sum on APP_CELERY_METRICS_PORT.
    metrics_dir = Path(
        os.environ.setdefault(
            "PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="worker-metrics-")
        )
    )
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir(parents=True)
    # SIGTERM (what Kubernetes sends) becomes Celery's cold shutdown, which honours
    # worker_soft_shutdown_timeout (APP_CELERY_SHUTDOWN_TIMEOUT): running tasks get that long,
    # then are handed back to the broker (acks_late) instead of holding the pod indefinitely.
    os.environ.setdefault("REMAP_SIGTERM", "SIGQUIT")
    from app.bootstrap.worker.app import create_worker_celery  # noqa: PLC0415
    from app.bootstrap.worker.metrics import install_task_metrics  # noqa: PLC0415

    settings = load_settings()
    celery = create_worker_celery(settings)
    install_task_metrics(
        args.metrics_port if args.metrics_port >= 0 else settings.celery.metrics_port
    )
    try:
        celery.worker_main(
            [
                "worker",
                f"--loglevel={settings.log.level}",
                f"--concurrency={args.concurrency or settings.celery.concurrency}",
                f"--pool={args.pool}",
                f"--queues={args.queues}",
                "--without-gossip",
                "--without-mingle",
            ]
        )
    finally:
        # However the worker ended (a cold shutdown sends no worker_shutdown signal), the probes
        # must now fail.
        for probe in (settings.celery.ready_file, settings.celery.heartbeat_file):
            Path(probe).unlink(missing_ok=True)
    return 0


def _worker_check(args: argparse.Namespace) -> int:
    from app.bootstrap.settings import CelerySettings  # noqa: PLC0415
    from app.bootstrap.worker.probes import check  # noqa: PLC0415

    config = load_section(CelerySettings)
    healthy, reason = check(
        heartbeat=Path(config.heartbeat_file),
        ready=Path(config.ready_file),
        max_age=args.max_age or config.heartbeat_seconds * 3,
    )
    print(reason, file=sys.stderr)  # noqa: T201
    return 0 if healthy else 1


def _beat(_: argparse.Namespace) -> int:
    from app.bootstrap.worker.app import create_worker_celery  # noqa: PLC0415

    settings = load_settings()
    celery = create_worker_celery(settings)
    celery.start(
        [
            "beat",
            f"--loglevel={settings.log.level}",
            f"--schedule={settings.celery.beat_schedule_file}",
        ]
    )
    return 0


def _smtp_sink(args: argparse.Namespace) -> int:
    from app.bootstrap.smtp_sink import start_sink  # noqa: PLC0415

    controller = start_sink(args.host, args.port, Path(args.mailbox))
    print(  # noqa: T201
        f"SMTP sink on {args.host}:{args.port}, messages in {Path(args.mailbox).resolve()}",
        file=sys.stderr,
        flush=True,
    )
    stopped = False

    def stop(_signum: int, _frame: FrameType | None) -> None:
        nonlocal stopped
        stopped = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while not stopped:
        time.sleep(0.2)
    controller.stop()
    return 0


DEMO_PASSWORD = "demo-password-2024"  # noqa: S105 - documented demo accounts, never in production


def _seed_demo(args: argparse.Namespace) -> int:
    from app.bootstrap.seed import DemoSeeder  # noqa: PLC0415

    settings = load_settings()
    if settings.app.env == "production" and not args.allow_production:
        print(  # noqa: T201
            "refusing to create demo accounts with a published password in production "
            "(APP_ENV=production); pass --allow-production if you really mean it",
            file=sys.stderr,
        )
        return 2
    password = os.environ.get("APP_DEMO_PASSWORD", DEMO_PASSWORD)
    result = asyncio.run(DemoSeeder(settings, password).run())
    print(  # noqa: T201
        f"demo data: {result['products_created']} products and {result['orders_created']} orders "
        f"created; accounts admin, staff, customer, customer2 (password: {password})",
        file=sys.stderr,
    )
    return 0


def _dev(args: argparse.Namespace) -> int:
    """Everything for a local run; embedded servers only for the URLs that are not set."""
    from app.bootstrap.embedded import EmbeddedPostgres, EmbeddedRedis  # noqa: PLC0415

    os.environ.setdefault("APP_ENV", "development")
    os.environ.setdefault("APP_LOG_FORMAT", "console")
    os.environ.setdefault("APP_AUTH_COOKIE_SECURE", "false")  # plain http on localhost
    os.environ.setdefault("APP_SERVER_HOST", "127.0.0.1")
    os.environ.setdefault("APP_SERVER_WORKERS", "2")
    with_smtp_sink = not os.environ.get("APP_SMTP_HOST")
    data = Path(args.data_dir).resolve()
    started: list[EmbeddedPostgres | EmbeddedRedis] = []
    try:
        if not os.environ.get("APP_DB_URL"):
            postgres = EmbeddedPostgres(data / "postgres")
            os.environ["APP_DB_URL"] = postgres.start()
            started.append(postgres)
            print(f"embedded PostgreSQL: {data / 'postgres'}", file=sys.stderr)  # noqa: T201
        if not os.environ.get("APP_REDIS_URL"):
            redis = EmbeddedRedis(data / "redis")
            os.environ["APP_REDIS_URL"] = redis.start()
            started.append(redis)
            print(f"embedded Redis: {data / 'redis'}", file=sys.stderr)  # noqa: T201
        load_settings()  # fail fast, with the variable's name, before anything else starts
        _migrate(argparse.Namespace(wait=30.0, revision="head"))
        if not args.no_seed:
            _seed_demo(argparse.Namespace(allow_production=False))
        from app.bootstrap.dev import supervise  # noqa: PLC0415 - development dependency

        return supervise(data, with_smtp_sink=with_smtp_sink)
    finally:
        for server in reversed(started):
            server.stop()


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
    worker.add_argument("--queues", default="default,notifications,maintenance")
    worker.add_argument(
        "--metrics-port", type=int, default=-1, help="-1: APP_CELERY_METRICS_PORT; 0: none"
    )
    worker.set_defaults(handler=_worker)
    check = commands.add_parser(
        "worker-check", help="exit 0 if the worker's heartbeat is fresh (for exec probes)"
    )
    check.add_argument(
        "--max-age", type=float, default=0, help="0: 3 x APP_CELERY_HEARTBEAT_SECONDS"
    )
    check.set_defaults(handler=_worker_check)
    commands.add_parser("beat", help="run the periodic-job scheduler").set_defaults(handler=_beat)
    sink = commands.add_parser("smtp-sink", help="a local SMTP server that saves mail as files")
    sink.add_argument("--host", default="127.0.0.1")
    sink.add_argument("--port", type=int, default=1025)
    sink.add_argument("--mailbox", default=".local/mailbox")
    sink.set_defaults(handler=_smtp_sink)
    seed = commands.add_parser(
        "seed-demo", help="idempotently add demo products, accounts and orders (not in production)"
    )
    seed.add_argument("--allow-production", action="store_true")
    seed.set_defaults(handler=_seed_demo)
    dev = commands.add_parser("dev", help="local run: embedded servers when no URLs are set")
    dev.add_argument("--data-dir", default=".local")
    dev.add_argument("--no-seed", action="store_true", help="skip the demo data")
    dev.set_defaults(handler=_dev)
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
