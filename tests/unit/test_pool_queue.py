"""The standing-queue rule: short waits only once callers have queued without a break."""

from __future__ import annotations

from app.shared.infrastructure.pool_queue import StandingQueue


def test_a_caller_joining_an_empty_queue_waits_the_full_timeout() -> None:
    queue = StandingQueue(interval=1.0)
    assert queue.join(100.0) is False


def test_a_queue_that_has_not_emptied_for_the_interval_is_standing() -> None:
    queue = StandingQueue(interval=1.0)
    queue.join(100.0)
    assert queue.join(100.5) is False  # a burst: queued for half the interval
    assert queue.join(101.0) is False  # exactly the interval: not over it yet
    assert queue.join(101.2) is True
    queue.leave(101.3)
    assert queue.join(101.4) is True  # others still wait: the queue never emptied


def test_the_queue_stops_standing_once_everyone_has_been_served() -> None:
    queue = StandingQueue(interval=1.0)
    queue.join(100.0)
    queue.join(100.1)
    queue.leave(102.0)
    queue.leave(102.5)  # empty now
    assert queue.join(103.0) is False  # the queue starts again: empty until this caller came
    assert queue.join(103.9) is False
    assert queue.join(104.1) is True


def test_an_idle_pool_is_not_a_standing_queue() -> None:
    queue = StandingQueue(interval=1.0)
    queue.join(100.0)
    queue.leave(100.0)
    assert queue.join(500.0) is False  # long after the last caller, not long in the queue
