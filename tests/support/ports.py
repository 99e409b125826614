"""TCP ports on 127.0.0.1 for servers a test starts, and ports where nothing listens."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A port free right now (the OS picked it); a server the test starts binds it next."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def free_ports(count: int) -> list[int]:
    """``count`` ports free right now and different from each other: each is held until all are
    picked, since a port just released may be the OS's next pick."""
    probes = [socket.socket() for _ in range(count)]
    try:
        for probe in probes:
            probe.bind(("127.0.0.1", 0))
        return [int(probe.getsockname()[1]) for probe in probes]
    finally:
        for probe in probes:
            probe.close()


def dead_port() -> int:
    """A port nothing listens on: connecting is refused at once."""
    return free_port()
