"""A local SMTP server that keeps every message as a file (development and tests only).

Each accepted message is written to ``<mailbox>/<timestamp>-<n>.eml`` (atomically: written under
a temporary name, then renamed), so people open them in any mail reader and tests count files.
"""

from __future__ import annotations

import argparse
import itertools
import os
import signal
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Any

from aiosmtpd.controller import Controller


class MailboxHandler:
    def __init__(self, mailbox: Path) -> None:
        self._mailbox = mailbox
        self._mailbox.mkdir(parents=True, exist_ok=True)
        self._counter = itertools.count(1)

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:  # noqa: ANN401, N802
        name = f"{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}-{next(self._counter):06d}.eml"
        temporary = self._mailbox / f".{name}.tmp"
        temporary.write_bytes(envelope.original_content or envelope.content)
        temporary.rename(self._mailbox / name)
        return "250 Message accepted for delivery"


def start_sink(host: str, port: int, mailbox: Path) -> Controller:
    controller = Controller(MailboxHandler(mailbox), hostname=host, port=port)
    controller.start()
    return controller


def run_smtp_sink(args: argparse.Namespace) -> int:
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
