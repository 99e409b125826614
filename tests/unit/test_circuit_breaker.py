"""CircuitBreaker (app/shared/infrastructure/breaker.py): open for a while after a failure, then
closed by itself; a shorter opening never cuts a longer one short."""

from __future__ import annotations

from app.shared.infrastructure.breaker import CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_new_breaker_is_closed() -> None:
    assert CircuitBreaker(5.0, clock=Clock()).closed


def test_an_opened_breaker_stays_open_for_its_seconds_then_closes() -> None:
    clock = Clock()
    breaker = CircuitBreaker(5.0, clock=clock)
    assert breaker.open()
    assert not breaker.closed
    clock.now += 4.999
    assert not breaker.closed
    clock.now += 0.001
    assert breaker.closed


def test_an_opening_for_other_seconds_lasts_that_long() -> None:
    clock = Clock()
    breaker = CircuitBreaker(5.0, clock=clock)
    assert breaker.open(60.0)
    clock.now += 59.0
    assert not breaker.closed
    clock.now += 1.0
    assert breaker.closed


def test_a_shorter_opening_never_cuts_a_longer_one_short() -> None:
    clock = Clock()
    breaker = CircuitBreaker(5.0, clock=clock)
    assert breaker.open(60.0)
    assert not breaker.open()  # a later failure inside the long pause: nothing to log
    clock.now += 10.0
    assert not breaker.closed


def test_a_failure_while_open_extends_the_pause_from_now() -> None:
    clock = Clock()
    breaker = CircuitBreaker(5.0, clock=clock)
    breaker.open()
    clock.now += 3.0
    assert breaker.open()  # ends 5 s after this failure, later than the first's end
    clock.now += 4.0
    assert not breaker.closed
    clock.now += 1.0
    assert breaker.closed


def test_it_reads_the_monotonic_clock_by_default() -> None:
    breaker = CircuitBreaker(3600.0)
    assert breaker.closed
    breaker.open()
    assert not breaker.closed
