"""The load test's init containers (loadtests/wait.py) against real sockets: an HTTP server that
answers 503 then 200, a TCP port that opens late, and a deadline that ends the wait."""

from __future__ import annotations

import http.server
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from loadtests import wait
from tests.support.ports import free_port


@contextmanager
def _http_server(statuses: list[int]) -> Iterator[str]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(statuses.pop(0) if len(statuses) > 1 else statuses[0])
            self.end_headers()

        def log_message(self, *_: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/health/ready"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(autouse=True)
def _quick(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wait, "PAUSE_SECONDS", 0.05)


def test_http_waits_through_not_ready_answers_until_a_200() -> None:
    statuses = [503, 503, 200]
    with _http_server(statuses) as url:
        assert wait.main(["http", url, "--within", "10"]) == 0
    assert statuses == [200]  # both 503s were asked and seen through


def test_http_gives_up_when_the_time_is_up(capsys: pytest.CaptureFixture[str]) -> None:
    with _http_server([503]) as url:
        assert wait.main(["http", url, "--within", "0.3"]) == 1
    assert "no answer within" in capsys.readouterr().err


def test_tcp_waits_until_the_port_accepts() -> None:
    port = free_port()
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)

    def open_late() -> None:
        time.sleep(0.3)
        listener.bind(("127.0.0.1", port))
        listener.listen()

    assert wait.tcp_open(f"127.0.0.1:{port}")() is False
    opener = threading.Thread(target=open_late)
    opener.start()
    try:
        assert wait.main(["tcp", f"127.0.0.1:{port}", "--within", "10"]) == 0
    finally:
        opener.join()
        listener.close()
