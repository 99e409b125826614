"""redis_errors_total counts each use's Redis failures, and only those, without hiding them."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY
from redis.exceptions import ConnectionError as RedisConnectionError

from app.shared.infrastructure.redis import RedisErrors


def _count(use: str) -> float | None:
    return REGISTRY.get_sample_value("redis_errors_total", {"use": use})


def test_a_use_is_counted_from_zero_once_its_adapter_is_made() -> None:
    assert _count("unit-made") is None
    RedisErrors("unit-made")
    assert _count("unit-made") == 0


@pytest.mark.parametrize(
    "error", [RedisConnectionError("down"), TimeoutError(), ConnectionRefusedError()]
)
def test_a_redis_failure_passing_through_is_counted_and_raised(error: Exception) -> None:
    errors = RedisErrors("unit-failure")
    before = _count("unit-failure")
    with pytest.raises(type(error)), errors:
        raise error
    assert _count("unit-failure") == (before or 0) + 1


def test_other_errors_and_success_are_not_counted() -> None:
    errors = RedisErrors("unit-other")
    with errors:
        pass
    with pytest.raises(KeyError), errors:
        raise KeyError("not Redis")
    assert _count("unit-other") == 0


def test_an_absorbed_error_is_counted_by_hand() -> None:
    errors = RedisErrors("unit-absorbed")
    errors.count()
    assert _count("unit-absorbed") == 1
