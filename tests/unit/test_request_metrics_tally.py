"""The request tally (ObservabilityMiddleware's in-memory counts) writes what prometheus_client's
own calls would have written, once flushed, and flushes by itself within a second or so."""

from __future__ import annotations

from prometheus_client import REGISTRY, CollectorRegistry, Histogram

from app.shared.presentation.http.metrics import DURATION, _Tally
from tests.support.polling import until

DURATIONS = (0.001, 0.005, 0.0051, 0.2, 0.3, 0.31, 7.0, 20.0)


def _sample(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


def _reference() -> dict[str, float]:
    """The same durations observed one by one on a histogram with the platform's buckets."""
    registry = CollectorRegistry()
    histogram = Histogram("reference", "", buckets=DURATION._upper_bounds[:-1], registry=registry)
    for value in DURATIONS:
        histogram.observe(value)
    return {
        f"{sample.name}|{sample.labels.get('le', '')}": sample.value
        for metric in registry.collect()
        for sample in metric.samples
        if not sample.name.endswith("_created")
    }


async def test_a_flush_writes_what_observing_each_request_would_have() -> None:
    tally = _Tally()
    route = "/tally/{same}"
    for value in DURATIONS:
        tally.started("GET")
        tally.finished("GET", route, 200, value)
    tally.started("GET")
    tally.finished("GET", route, 503, 0.01)
    tally.flush()

    labels = {"method": "GET", "route": route}
    assert _sample("http_requests_total", status="200", **labels) == len(DURATIONS)
    assert _sample("http_requests_total", status="503", **labels) == 1
    expected = _reference()
    for key, value in expected.items():
        name, le = key.split("|")
        ours = name.replace("reference", "http_request_duration_seconds")
        extra = {"le": le} if le else {}
        got = _sample(ours, **labels, **extra)
        # The 503's 0.01 s is in ours, not in the reference: it adds one to buckets from 0.01 up.
        late = 1 if (not le and name.endswith("_count")) or (le and float(le) >= 0.01) else 0
        if name.endswith("_sum"):
            assert got is not None
            assert abs(got - (value + 0.01)) < 1e-9
        else:
            assert got == value + late, (key, got, value)


async def test_in_progress_counts_started_requests_not_yet_finished() -> None:
    tally = _Tally()
    for _ in range(3):
        tally.started("PATCH")
    tally.finished("PATCH", "/tally/progress", 200, 0.001)
    tally.flush()
    assert _sample("http_requests_in_progress", method="PATCH") == 2
    tally.finished("PATCH", "/tally/progress", 200, 0.001)
    tally.finished("PATCH", "/tally/progress", 200, 0.001)
    tally.flush()
    assert _sample("http_requests_in_progress", method="PATCH") == 0


async def test_counts_reach_the_metrics_without_a_scrape() -> None:
    tally = _Tally()
    labels = {"method": "DELETE", "route": "/tally/timer", "status": "204"}
    tally.started("DELETE")
    tally.finished("DELETE", "/tally/timer", 204, 0.002)
    assert _sample("http_requests_total", **labels) is None
    # The tally's own timer, FLUSH_SECONDS after the first request.
    await until(lambda: _sample("http_requests_total", **labels) == 1, every=0.1)
