"""Kubernetes probes for the worker that never touch the broker.

- Heartbeat: a worker bootstep touches a file every few seconds from the worker's own timer (the
  thread that also drives the consumer), so a stale file means a stuck or dead worker.
- Ready marker: written once the worker consumes, removed on shutdown.
``python -m app worker-check`` turns both into an exit code for an exec probe.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, ClassVar

from celery import Celery, bootsteps
from celery.signals import worker_ready, worker_shutdown


def _touch(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()


def install_probes(celery: Celery, *, heartbeat: Path, ready: Path, interval: float) -> None:
    class Heartbeat(bootsteps.StartStopStep):  # type: ignore[misc]
        requires: ClassVar = {"celery.worker.components:Timer"}

        def __init__(self, worker: Any, **kwargs: Any) -> None:  # noqa: ANN401 - Celery's API
            super().__init__(worker, **kwargs)
            self._timer_ref: Any = None

        def start(self, worker: Any) -> None:  # noqa: ANN401
            # Here, not at the top: worker-check imports this module and needs no metrics.
            from app.bootstrap.worker.metrics import heartbeat as metric  # noqa: PLC0415

            def beat() -> None:
                _touch(heartbeat)
                metric()

            beat()
            self._timer_ref = worker.timer.call_repeatedly(interval, beat)

        def stop(self, _worker: Any) -> None:  # noqa: ANN401
            if self._timer_ref is not None:
                self._timer_ref.cancel()

    celery.steps["worker"].add(Heartbeat)

    def mark_ready(**_: Any) -> None:  # noqa: ANN401 - signal arguments
        _touch(ready)

    def unmark_ready(**_: Any) -> None:  # noqa: ANN401
        ready.unlink(missing_ok=True)

    worker_ready.connect(mark_ready, weak=False)
    worker_shutdown.connect(unmark_ready, weak=False)


def check(*, heartbeat: Path, ready: Path, max_age: float) -> tuple[bool, str]:
    if not ready.exists():
        return False, f"not ready: {ready} is missing"
    try:
        age = time.time() - heartbeat.stat().st_mtime
    except FileNotFoundError:
        return False, f"no heartbeat: {heartbeat} is missing"
    if age > max_age:
        return False, f"heartbeat is {age:.0f}s old (limit {max_age:.0f}s)"
    return True, f"alive: heartbeat {age:.1f}s old"
