"""Load shapes, chosen with ``LOAD_SHAPE`` (step, spike, soak or constant); without it, Locust's
own ``-u``/``-r``/``-t`` decide. Sized by ``LOAD_USERS`` (the peak, 50), ``LOAD_SPAWN_RATE``
(users started per second, 10) and ``LOAD_DURATION`` (seconds, 120).

- step: five equal steps up to the peak, each a fifth of the duration: where does it bend?
- spike: a fifth of the peak, the full peak for the middle sixth, then back: does it recover?
- soak: ramp to the peak and hold it for the whole duration: does memory or latency creep?
- constant: the peak from the start, each user pacing itself to ``LOAD_RATE`` requests a
  second in all (``constant_throughput``), an arrival rate that does not slow down when the
  server does.
"""

from __future__ import annotations

import os
from typing import Final

from locust import LoadTestShape, constant_throughput

USERS: Final = int(os.environ.get("LOAD_USERS", "50"))
SPAWN_RATE: Final = float(os.environ.get("LOAD_SPAWN_RATE", "10"))
DURATION: Final = float(os.environ.get("LOAD_DURATION", "120"))
RATE: Final = float(os.environ.get("LOAD_RATE", "100"))

Tick = tuple[int, float] | None


def _elapsed(shape: LoadTestShape) -> float:
    return float(shape.get_run_time())  # type: ignore[no-untyped-call] # untyped in Locust


class StepShape(LoadTestShape):
    steps = 5

    def tick(self) -> Tick:
        elapsed = _elapsed(self)
        if elapsed >= DURATION:
            return None
        step = int(elapsed // (DURATION / self.steps)) + 1
        return max(1, round(USERS * step / self.steps)), SPAWN_RATE


class SpikeShape(LoadTestShape):
    def tick(self) -> Tick:
        elapsed = _elapsed(self)
        if elapsed >= DURATION:
            return None
        spiking = DURATION * 5 / 12 <= elapsed < DURATION * 7 / 12
        # The spike arrives at once: that is what a spike is.
        return (USERS, float(USERS)) if spiking else (max(1, USERS // 5), SPAWN_RATE)


class SoakShape(LoadTestShape):
    def tick(self) -> Tick:
        return (USERS, SPAWN_RATE) if _elapsed(self) < DURATION else None


class ConstantShape(SoakShape):
    """Users pace themselves (see ``wait_time_for``); the shape only holds their number."""


SHAPES: Final[dict[str, type[LoadTestShape]]] = {
    "step": StepShape,
    "spike": SpikeShape,
    "soak": SoakShape,
    "constant": ConstantShape,
}


def selected_shape() -> type[LoadTestShape] | None:
    name = os.environ.get("LOAD_SHAPE", "")
    if not name:
        return None
    if name not in SHAPES:
        message = f"LOAD_SHAPE={name!r}: choose one of {', '.join(SHAPES)}"
        raise SystemExit(message)
    return SHAPES[name]


def paced_wait_time() -> object | None:
    """With the constant shape, every user's wait time: the total rate split among the users."""
    if os.environ.get("LOAD_SHAPE") != "constant":
        return None
    return constant_throughput(RATE / max(USERS, 1))
