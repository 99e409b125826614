"""A small TCP fault proxy: PostgreSQL or Redis behind it, the application in front.

Modes, switched at any time from any thread:

- ``pass_through()``: bytes flow both ways as they come;
- ``delay(ms)``: every chunk from the client waits ``ms`` before it is forwarded (in order), so
  each request/response round trip takes about ``ms`` longer;
- ``block()``: nothing is forwarded, and new connections are accepted and held unanswered (a
  network partition: callers see timeouts, not refusals);
- ``cut()``: every open connection is closed at once (the mode stays: new connections go on);
- ``retarget(upstream)``: new connections go elsewhere (a load balancer in a rolling update).

A reset from either side is passed on as a reset (an RST, not an orderly close), as a router
or kube-proxy's NAT passes it: a server closing a kept-alive connection that a request has
just reached resets it, and the client must see that at once, not wait for its timeout.

The upstream is a TCP address or a unix socket path. The proxy runs its own event loop in a
daemon thread, so nothing the load generator's loop does delays it.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
import time
from collections.abc import Awaitable
from pathlib import Path
from typing import Literal, TypeVar

Mode = Literal["pass", "delay", "block"]
T = TypeVar("T")
_CHUNK = 65536
_CONTROL_TIMEOUT = 10.0


class FaultProxy:
    """``with FaultProxy(upstream) as proxy:`` listens on 127.0.0.1:``proxy.port``."""

    def __init__(self, upstream: tuple[str, int] | Path) -> None:
        self._upstream = upstream
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._mode: Mode = "pass"
        self._delay = 0.0
        self._changed = asyncio.Event()  # set (and replaced) on every mode change
        self._connections: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None
        self.port = 0
        self.accepted = 0

    # --- control, from any thread ---------------------------------------------------------

    def pass_through(self) -> None:
        self._run(self._set("pass", 0.0))

    def delay(self, milliseconds: float) -> None:
        self._run(self._set("delay", milliseconds / 1000))

    def block(self) -> None:
        self._run(self._set("block", 0.0))

    def retarget(self, upstream: tuple[str, int] | Path) -> None:
        """New connections go to ``upstream``; open ones stay where they are (a load balancer
        taking an old instance out of rotation)."""
        self._upstream = upstream

    def cut(self) -> int:
        """Close every open connection; returns how many there were."""
        return self._run(self._cut())

    @property
    def mode(self) -> Mode:
        return self._mode

    @property
    def open_connections(self) -> int:
        return len(self._connections)

    def start(self) -> FaultProxy:
        self._thread.start()
        self._run(self._listen())
        return self

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        with contextlib.suppress(Exception):
            self._run(self._close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=_CONTROL_TIMEOUT)
        self._loop.close()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def _run(self, coroutine: Awaitable[T]) -> T:
        async def wrapped() -> T:
            return await coroutine

        future = asyncio.run_coroutine_threadsafe(wrapped(), self._loop)
        return future.result(timeout=_CONTROL_TIMEOUT)

    # --- the proxy's own loop -------------------------------------------------------------

    async def _set(self, mode: Mode, delay: float) -> None:
        self._mode, self._delay = mode, delay
        self._changed.set()
        self._changed = asyncio.Event()

    async def _cut(self) -> int:
        tasks = list(self._connections)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        return len(tasks)

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
        await self._cut()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        task = asyncio.current_task()
        assert task is not None  # noqa: S101 - a callback of start_server runs in a task
        self._connections.add(task)
        try:
            await self._serve(reader, writer)
        except (OSError, asyncio.IncompleteReadError, asyncio.CancelledError):
            # The upstream refused, either side went away, or cut(): close both. A cancelled
            # connection ends quietly (asyncio's stream callback reports a cancelled task).
            pass
        finally:
            self._connections.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _while_blocked(self) -> None:
        while self._mode == "block":
            await self._changed.wait()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self._while_blocked()
        upstream = self._upstream
        if isinstance(upstream, Path):
            up_reader, up_writer = await asyncio.open_unix_connection(upstream)
        else:
            up_reader, up_writer = await asyncio.open_connection(*upstream)
        try:
            await _first_to_end(
                self._pump(reader, up_writer, delayed=True),
                self._pump(up_reader, writer, delayed=False),
            )
        finally:
            up_writer.close()

    async def _pump(
        self, source: asyncio.StreamReader, sink: asyncio.StreamWriter, *, delayed: bool
    ) -> None:
        """Copy one direction. Delayed chunks keep their order: each is due ``delay`` after it
        arrived, and a reader task queues them so the delay is per chunk, not cumulative."""
        queue: asyncio.Queue[tuple[float, bytes | None]] = asyncio.Queue()

        async def read() -> None:
            try:
                while chunk := await source.read(_CHUNK):
                    queue.put_nowait((time.monotonic(), chunk))
            except OSError:  # reset: without a word in the queue, the loop below would wait forever
                queue.put_nowait((time.monotonic(), None))
            else:
                queue.put_nowait((time.monotonic(), b""))

        reading = asyncio.create_task(read())
        try:
            while True:
                arrived, chunk = await queue.get()
                if chunk is None:
                    _reset(sink)
                    return
                if not chunk:
                    return
                await self._while_blocked()
                if delayed and self._mode == "delay":
                    await asyncio.sleep(max(0.0, arrived + self._delay - time.monotonic()))
                sink.write(chunk)
                await sink.drain()
        finally:
            reading.cancel()
            with contextlib.suppress(asyncio.CancelledError, OSError):
                await reading


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with an RST: a linger of zero makes the close a reset, and abort() drops what was
    not yet sent, as the reset did on the other side."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):  # a unix socket has no linger: closed as it is
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def _first_to_end(*coroutines: Awaitable[None]) -> None:
    """Run both directions; when one ends (end of file, error), stop the other."""
    tasks = [asyncio.ensure_future(coroutine) for coroutine in coroutines]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            task.result()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
