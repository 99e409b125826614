"""Mail in the tests: the project's SMTP sink saving messages as files in a folder, read back
as a mailbox, and a sink that holds a delivery mid-transaction (GatedSink)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from dataclasses import dataclass
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from app.bootstrap.devtools.smtp_sink import MailboxHandler
from tests.support.polling import WITHIN, until
from tests.support.ports import free_port


@dataclass(frozen=True)
class Mailbox:
    port: int
    path: Path

    def messages(self) -> list[EmailMessage]:
        parser = BytesParser(policy=default)
        return [parser.parsebytes(path.read_bytes()) for path in sorted(self.path.glob("*.eml"))]

    async def wait_for(self, count: int, *, within: float = WITHIN) -> list[EmailMessage]:
        """At least ``count`` messages, or what came within the deadline (the caller checks)."""
        with contextlib.suppress(AssertionError):
            await until(lambda: len(self.messages()) >= count, within=within)
        return self.messages()


def text_of(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())


class GatedHandler(MailboxHandler):
    """Saves mail like the real sink, but holds the first SMTP transaction at a chosen step.

    ``hold="data"``: the first DATA waits *before* saving: the worker is stuck inside the send,
    the mail server has not accepted anything. ``hold="quit"``: the first DATA saves and answers
    250 (accepted), then the QUIT waits: the worker has its 250 but has not yet returned from the
    send, so its inbox row is not committed. ``hold=None``: a plain sink.

    A held step ends when the connection is lost (aiosmtpd cancels the handler: nothing more is
    saved), when ``release`` is set, or after ``max_hold`` seconds (a bound, never reached).
    """

    def __init__(self, mailbox: Path, hold: str | None, max_hold: float = 30.0) -> None:
        super().__init__(mailbox)
        self.hold = hold
        self.max_hold = max_hold
        self.in_flight = threading.Event()  # the held step was reached
        self.interrupted = threading.Event()  # the client went away while held
        self.release = threading.Event()
        self.data_commands = 0
        self._held = False

    async def _wait(self) -> None:
        self.in_flight.set()
        deadline = time.monotonic() + self.max_hold
        try:
            while True:
                if self.release.is_set() or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.02)
        except asyncio.CancelledError:
            self.interrupted.set()
            raise

    def _claim(self, step: str) -> bool:
        if self.hold == step and not self._held:
            self._held = True
            return True
        return False

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.data_commands += 1
        if self._claim("data"):
            await self._wait()  # cancelled when the worker dies: the message is never saved
        reply = await super().handle_DATA(server, session, envelope)
        if self.hold == "quit" and not self._held:
            session.hold_quit = True
        return reply

    async def handle_QUIT(self, _server: Any, session: Any, _envelope: Any) -> str:  # noqa: N802
        if getattr(session, "hold_quit", False) and self._claim("quit"):
            await self._wait()
        return "221 Bye"


@dataclass
class GatedSink:
    mailbox: Mailbox
    handler: GatedHandler
    controller: Controller

    @classmethod
    def start(cls, path: Path, *, hold: str | None) -> GatedSink:
        port = free_port()
        handler = GatedHandler(path, hold)
        controller = Controller(handler, hostname="127.0.0.1", port=port)
        controller.start()
        return cls(Mailbox(port=port, path=path), handler, controller)

    def stop(self) -> None:
        self.handler.release.set()
        self.controller.stop()
