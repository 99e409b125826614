"""The load test's SLO gate (loadtests/journeys/slo.py): limits from TOML, per-group overrides,
and a breach for each limit exceeded."""

from __future__ import annotations

from pathlib import Path

from loadtests.journeys.slo import DEFAULT_FILE, Limits, Observed, breaches, load_limits

DEFAULT = Limits(p95_ms=500, p99_ms=1000, fail_ratio=0.01)


def _group(name: str = "GET /x", **overrides: float) -> Observed:
    values = {"requests": 1000, "failures": 0, "p95_ms": 100.0, "p99_ms": 200.0, **overrides}
    return Observed(name=name, **values)  # type: ignore[arg-type] # floats and ints alike


def test_a_run_within_every_limit_has_no_breach() -> None:
    assert breaches([_group(), _group("GET /y", failures=10)], DEFAULT, {}) == []


def test_each_exceeded_limit_is_one_breach() -> None:
    found = breaches([_group(failures=11, p95_ms=501, p99_ms=1001)], DEFAULT, {})
    assert found == [
        "GET /x: 11 of 1000 failed (1.10% > 1.00%)",
        "GET /x: p95 501 ms > 500 ms",
        "GET /x: p99 1001 ms > 1000 ms",
    ]


def test_a_group_of_its_own_overrides_only_what_it_names(tmp_path: Path) -> None:
    path = tmp_path / "slo.toml"
    path.write_text(
        "[default]\np95_ms = 500\np99_ms = 1000\nfail_ratio = 0.01\n"
        '[groups."POST /login"]\np95_ms = 1500\n'
    )
    default, groups = load_limits(path)
    assert default == DEFAULT
    assert groups["POST /login"] == Limits(p95_ms=1500, p99_ms=1000, fail_ratio=0.01)
    assert breaches([_group("POST /login", p95_ms=1400)], default, groups) == []
    assert breaches([_group("GET /other", p95_ms=1400)], default, groups) != []


def test_the_committed_file_parses_and_names_a_default() -> None:
    default, groups = load_limits(DEFAULT_FILE)
    assert default.fail_ratio <= 0.01
    assert all(limit.p99_ms >= limit.p95_ms for limit in groups.values())
