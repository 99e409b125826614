"""``make run``: every process of the platform under one supervisor, output prefixed per process.

API, worker, beat and (unless APP_SMTP_HOST is set) a local SMTP sink run as children of honcho's
manager: Ctrl-C stops them all (SIGTERM, then SIGKILL after a few seconds), and a child that
dies is reported and stops the others, so a crash is never hidden behind a running API.
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

from honcho.manager import Manager


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
    base = f"http://{env['APP_SERVER_HOST']}:{env.get('APP_SERVER_PORT', '8000')}"
    print(  # noqa: T201
        f"\n  API        {base}\n  Swagger UI {base}/docs\n  ReDoc      {base}/redoc\n"
        f"  Health     {base}/health/ready\n  Metrics    {base}/metrics\n"
        + (f"  Mailbox    {mailbox} (every e-mail sent, as .eml files)\n" if with_smtp_sink else "")
        + "\n  Ctrl-C stops everything.\n",
        file=sys.stderr,
        flush=True,
    )
    manager.loop()
    # 130/143: stopped by Ctrl-C or SIGTERM, as asked; anything else is a child's failure.
    return 0 if manager.returncode in {None, 0, 130, 143} else int(manager.returncode)
