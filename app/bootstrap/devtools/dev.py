"""``make run``: every process of the platform under one supervisor, output prefixed per process.

API, worker, beat and (unless APP_SMTP_HOST is set) a local SMTP sink run as children of honcho's
manager: Ctrl-C stops them all (SIGTERM, then SIGKILL after a few seconds), and a child that
dies is reported and stops the others, so a crash is never hidden behind a running API.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

from honcho.manager import Manager

from app.bootstrap.devtools.embedded import EmbeddedPostgres, EmbeddedRedis
from app.bootstrap.devtools.seed import seed_demo
from app.bootstrap.migrations import migrate_when_ready
from app.bootstrap.settings import DatabaseSettings, load_section, load_settings


def _command(*args: str) -> str:
    return shlex.join([sys.executable, "-m", "app", *args])


def supervise(data_dir: Path, *, with_smtp_sink: bool) -> int:
    env = dict(os.environ)
    env.setdefault("APP_CELERY_BEAT_SCHEDULE_FILE", str(data_dir / "celerybeat-schedule"))
    mailbox = data_dir / "mailbox"
    manager = Manager()
    manager.add_process("api", _command("api"), env=env)
    manager.add_process("worker", _command("worker", "--concurrency=1"), env=env)
    manager.add_process("beat", _command("beat"), env=env)
    if with_smtp_sink:
        port = env.get("APP_SMTP_PORT", "1025")
        manager.add_process(
            "mail", _command("smtp-sink", f"--port={port}", f"--mailbox={mailbox}"), env=env
        )
    host = env["APP_SERVER_HOST"]
    base = f"http://{host}:{env.get('APP_SERVER_PORT', '8000')}"
    metrics = f"http://{host}:{env.get('APP_SERVER_METRICS_PORT', '9100')}"
    worker_metrics = f"http://127.0.0.1:{env.get('APP_CELERY_METRICS_PORT', '9101')}"
    print(  # noqa: T201
        f"\n  API        {base}\n  Swagger UI {base}/docs\n  ReDoc      {base}/redoc\n"
        f"  Health     {base}/health/ready\n  Metrics    {metrics}/metrics (API), "
        f"{worker_metrics}/metrics (worker)\n"
        + (f"  Mailbox    {mailbox} (every e-mail sent, as .eml files)\n" if with_smtp_sink else "")
        + "\n  Ctrl-C stops everything.\n",
        file=sys.stderr,
        flush=True,
    )
    manager.loop()
    # 130/143: stopped by Ctrl-C or SIGTERM, as asked; anything else is a child's failure.
    return 0 if manager.returncode in {None, 0, 130, 143} else int(manager.returncode)


def run_dev(args: argparse.Namespace) -> int:
    """Everything for a local run; embedded servers only for the URLs that are not set."""
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
        migrate_when_ready(load_section(DatabaseSettings).url, "head", wait=30.0)
        if not args.no_seed:
            # Shoppers too, so `make loadtest` works against `make run` as it comes.
            seed_demo(argparse.Namespace(allow_production=False, shoppers=20, products=300))
        return supervise(data, with_smtp_sink=with_smtp_sink)
    finally:
        for server in reversed(started):
            server.stop()
