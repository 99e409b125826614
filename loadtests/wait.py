"""Wait, bounded, until the platform or a Locust master answers: the init containers of the
chart's load test (charts/fastapi-platform/templates/loadtest/).

    python -m loadtests.wait http http://api/health/ready --within 300
    python -m loadtests.wait tcp loadtest-master:5557 --within 600

Exits 0 once it answers (an HTTP 200, or a TCP connection accepted), 1 when the time is up.
The standard library only: the image's venv has no HTTP client of its own to spare.
"""

from __future__ import annotations

import argparse
import socket
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence

PAUSE_SECONDS = 2.0
ATTEMPT_TIMEOUT_SECONDS = 5.0


def http_ok(url: str) -> Callable[[], bool]:
    def check() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=ATTEMPT_TIMEOUT_SECONDS) as response:  # noqa: S310 - the chart's own URL  # nosec B310
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    return check


def tcp_open(address: str) -> Callable[[], bool]:
    host, _, port = address.rpartition(":")

    def check() -> bool:
        try:
            with socket.create_connection((host, int(port)), timeout=ATTEMPT_TIMEOUT_SECONDS):
                return True
        except OSError:
            return False

    return check


def wait(check: Callable[[], bool], within: float, what: str) -> bool:
    deadline = time.monotonic() + within
    while True:
        if check():
            print(f"{what}: answering", flush=True)  # noqa: T201
            return True
        if time.monotonic() >= deadline:
            print(f"{what}: no answer within {within:.0f}s", file=sys.stderr, flush=True)  # noqa: T201
            return False
        time.sleep(PAUSE_SECONDS)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtests.wait", description=__doc__)
    parser.add_argument("kind", choices=("http", "tcp"))
    parser.add_argument("target", help="a URL that must answer 200, or host:port")
    parser.add_argument("--within", type=float, default=300.0, metavar="SECONDS")
    args = parser.parse_args(argv)
    check = http_ok(args.target) if args.kind == "http" else tcp_open(args.target)
    return 0 if wait(check, args.within, args.target) else 1


if __name__ == "__main__":
    raise SystemExit(main())
