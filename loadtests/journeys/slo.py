"""The SLO gate: per-group limits from a TOML file (``LOAD_SLO_FILE``, default
loadtests/slo.toml), checked when the run ends; a breach sets the exit code."""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

DEFAULT_FILE = Path(__file__).resolve().parent.parent / "slo.toml"


@dataclass(frozen=True, slots=True)
class Limits:
    p95_ms: float
    p99_ms: float
    fail_ratio: float


@dataclass(frozen=True, slots=True)
class Observed:
    """What Locust measured for one request group (its ``StatsEntry``, reduced)."""

    name: str
    requests: int
    failures: int
    p95_ms: float
    p99_ms: float


class StatsEntry(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def num_requests(self) -> int: ...

    @property
    def num_failures(self) -> int: ...

    def get_response_time_percentile(self, percent: float) -> float: ...


def load_limits(path: Path) -> tuple[Limits, dict[str, Limits]]:
    document: dict[str, Any] = tomllib.loads(path.read_text())
    default = Limits(**document["default"])
    groups = {
        name: Limits(**{**_as_dict(default), **values})
        for name, values in document.get("groups", {}).items()
    }
    return default, groups


def _as_dict(limits: Limits) -> dict[str, float]:
    return {"p95_ms": limits.p95_ms, "p99_ms": limits.p99_ms, "fail_ratio": limits.fail_ratio}


def observed(entries: Iterable[StatsEntry]) -> list[Observed]:
    return [
        Observed(
            name=entry.name,
            requests=entry.num_requests,
            failures=entry.num_failures,
            p95_ms=entry.get_response_time_percentile(0.95) or 0.0,
            p99_ms=entry.get_response_time_percentile(0.99) or 0.0,
        )
        for entry in entries
        if entry.num_requests
    ]


def breaches(
    groups: Iterable[Observed], default: Limits, limits: Mapping[str, Limits]
) -> list[str]:
    """One line per limit a group exceeded; empty when the run met every SLO."""
    found = []
    for group in groups:
        limit = limits.get(group.name, default)
        ratio = group.failures / group.requests
        if ratio > limit.fail_ratio:
            found.append(
                f"{group.name}: {group.failures} of {group.requests} failed "
                f"({ratio:.2%} > {limit.fail_ratio:.2%})"
            )
        for label, value, bound in (
            ("p95", group.p95_ms, limit.p95_ms),
            ("p99", group.p99_ms, limit.p99_ms),
        ):
            if value > bound:
                found.append(f"{group.name}: {label} {value:.0f} ms > {bound:.0f} ms")
    return found
