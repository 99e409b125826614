"""The Grafana dashboards the chart ships (charts/fastapi-platform/dashboards/*.json), read as
data: their panels' queries, their template variables, and the metric tables of the guide that
say which series exist.

A query is checked as Grafana would send it: ``substitute()`` puts values in for the dashboard's
variables and Grafana's own (``$__rate_interval``, ``$__range``, ``$__interval``), and
``selectors()`` reads which metrics it selects, with which matchers, grouped by which labels.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Final

ROOT: Final = Path(__file__).resolve().parents[2]
DASHBOARDS_DIR: Final = ROOT / "charts" / "fastapi-platform" / "dashboards"
RULES_FILE: Final = ROOT / "charts" / "fastapi-platform" / "files" / "prometheus-rules.yaml"
# The metric tables: everything the API's and the worker's /metrics serve.
METRIC_TABLES: Final = (
    ROOT / "docs" / "06-presentation-layer.md",
    ROOT / "docs" / "11-async-tasks.md",
)
# The jobs the chart's ServiceMonitor and PodMonitor scrape under (and the alert rules select).
JOBS: Final = ("fastapi-platform-api", "fastapi-platform-worker")
# Grafana's own variables the dashboards use; Grafana fills them in from the time range.
GRAFANA_VARIABLES: Final = frozenset({"__rate_interval", "__range", "__interval"})
DATASOURCE: Final = {"type": "prometheus", "uid": "${datasource}"}
# Labels Prometheus gives every series it scrapes (the operator's monitors add pod and the
# namespace; a hand-written scrape config is asked to as well), and the histograms' bucket bound.
TARGET_LABELS: Final = frozenset({"job", "instance", "namespace", "pod"})

Board = dict[str, Any]


@dataclass(frozen=True)
class Query:
    dashboard: str  # the file's stem
    panel: str  # the panel's title
    ref: str  # the target's refId
    expr: str
    legend: str = ""

    def __str__(self) -> str:
        return f"{self.dashboard}: {self.panel} [{self.ref}]"


@dataclass(frozen=True)
class Selector:
    name: str
    matchers: tuple[tuple[str, str, str], ...]  # (label, operator, value)

    def matcher(self, label: str) -> tuple[str, str] | None:
        return next(((op, value) for name, op, value in self.matchers if name == label), None)


@dataclass(frozen=True)
class Metric:
    kind: str  # counter, gauge, histogram
    label_names: frozenset[str]


def dashboards() -> dict[str, Board]:
    """Every dashboard file, by its stem (api, background, ...)."""
    return {
        path.stem: json.loads(path.read_text()) for path in sorted(DASHBOARDS_DIR.glob("*.json"))
    }


def panels(board: Board) -> Iterator[dict[str, Any]]:
    """Every panel, rows included, and the panels of collapsed rows."""
    for panel in board.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def queries(boards: Mapping[str, Board] | None = None) -> list[Query]:
    return [
        Query(stem, panel["title"], target["refId"], target["expr"], target.get("legendFormat", ""))
        for stem, board in (boards if boards is not None else dashboards()).items()
        for panel in panels(board)
        for target in panel.get("targets", [])
    ]


def variables(board: Board) -> list[dict[str, Any]]:
    return list(board.get("templating", {}).get("list", []))


def variable_query(variable: dict[str, Any]) -> str:
    """A query variable's query (Grafana stores a string, or an object with one)."""
    query = variable["query"]
    return str(query["query"] if isinstance(query, dict) else query)


LABEL_VALUES: Final = re.compile(r"^label_values\((?P<selector>.+),\s*(?P<label>\w+)\)$")

_REFERENCE: Final = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]")


def references(expr: str) -> set[str]:
    """The variables a query names: ``$name``, ``${name}`` (with a format or not), ``[[name]]``."""
    return {next(group for group in match.groups() if group) for match in _REFERENCE.finditer(expr)}


def substitute(expr: str, values: Mapping[str, str]) -> str:
    """The query with each variable replaced by its value; a variable without one stays."""

    def value(match: re.Match[str]) -> str:
        name = next(group for group in match.groups() if group)
        return values.get(name, match.group(0))

    return _REFERENCE.sub(value, expr)


# --- Reading PromQL: enough of it to list selectors and grouping labels ------------------------

_TOKENS: Final = re.compile(
    r"""(?P<string>"(?:[^"\\]|\\.)*")
      | (?P<grouping>\b(?:by|without|on|ignoring|group_left|group_right)\s*\((?P<labels>[^)]*)\))
      | (?P<braces>\{(?P<matchers>[^}]*)\})
      | (?P<range>\[[^\]]*\])
      | (?P<number>\b\d+(?:\.\d+)?(?:e[+-]?\d+)?\b)
      | (?P<ident>[A-Za-z_:][\w:]*)(?P<call>(?=\s*(?:\(|(?:by|without)\s*\()))?""",
    re.VERBOSE,
)
_MATCHER: Final = re.compile(r'(\w+)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"')
_KEYWORDS: Final = frozenset({"and", "or", "unless", "offset", "bool", "inf", "nan"})


def selectors(expr: str) -> list[Selector]:
    """The series selectors of a query: each metric name with its label matchers."""
    found: list[Selector] = []
    pending: str | None = None  # a metric name whose braces may follow
    for token in _TOKENS.finditer(expr):
        kind = token.lastgroup if token.lastgroup != "labels" else "grouping"
        if kind == "braces" and pending is not None:
            matchers = tuple(
                (m.group(1), m.group(2), m.group(3)) for m in _MATCHER.finditer(token["matchers"])
            )
            found.append(Selector(pending, matchers))
            pending = None
            continue
        if pending is not None:
            found.append(Selector(pending, ()))
            pending = None
        # A name before "(" or "by (" is a function or an aggregation, not a metric.
        called = token["call"] is not None
        if token["ident"] and not called and token["ident"].lower() not in _KEYWORDS:
            pending = token["ident"]
    if pending is not None:
        found.append(Selector(pending, ()))
    return found


def grouping_labels(expr: str) -> set[str]:
    """The labels of every by, without, on, ignoring and group_left/right clause."""
    labels: set[str] = set()
    for token in _TOKENS.finditer(expr):
        if token["grouping"]:
            labels |= {label.strip() for label in token["labels"].split(",") if label.strip()}
    return labels


# --- What exists: the guide's metric tables and the recording rules -------------------------

_ROW: Final = re.compile(
    r"^\|\s*`(?P<name>[a-z_:][a-z0-9_:]*)`\s*\|\s*(?P<kind>counter|gauge|histogram)\s*\|(?P<labels>[^|]*)\|"
)


@cache
def documented_metrics() -> dict[str, Metric]:
    """Every metric of the API's and the worker's tables (docs/06 and docs/11), labels merged."""
    metrics: dict[str, Metric] = {}
    for page in METRIC_TABLES:
        for line in page.read_text().splitlines():
            row = _ROW.match(line)
            if not row:
                continue
            labels = frozenset(re.findall(r"`(\w+)`", row["labels"]))
            known = metrics.get(row["name"])
            if known is not None and known.kind != row["kind"]:
                msg = f"{row['name']} is a {known.kind} in one table and a {row['kind']} in another"
                raise AssertionError(msg)
            metrics[row["name"]] = Metric(
                row["kind"], labels | (known.label_names if known else frozenset())
            )
    return metrics


def documented_series() -> dict[str, Metric]:
    """The names a query can select: a histogram's as its _bucket, _sum and _count series."""
    series: dict[str, Metric] = {}
    for name, metric in documented_metrics().items():
        if metric.kind == "histogram":
            series[f"{name}_bucket"] = Metric(metric.kind, metric.label_names | {"le"})
            series[f"{name}_sum"] = series[f"{name}_count"] = metric
        else:
            series[name] = metric
    return series


def scraped_labels(metric: Metric) -> frozenset[str]:
    """A metric's labels as Prometheus stores them: one that a target label of the same name
    takes over (job, namespace...) becomes exported_<label> (honor_labels: false, the default)."""
    return (
        frozenset(
            f"exported_{label}" if label in TARGET_LABELS else label for label in metric.label_names
        )
        | TARGET_LABELS
    )


def rules_file() -> dict[str, Any] | None:
    """The alert and SLO rules (charts/fastapi-platform/files/prometheus-rules.yaml), if any."""
    import yaml  # noqa: PLC0415 - only the tests that read the rules need it

    if not RULES_FILE.is_file():
        return None
    loaded: dict[str, Any] = yaml.safe_load(RULES_FILE.read_text())
    return loaded


def rules() -> list[dict[str, Any]]:
    loaded = rules_file()
    return [rule for group in (loaded or {}).get("groups", []) for rule in group["rules"]]


def recorded_series() -> set[str]:
    return {str(rule["record"]) for rule in rules() if "record" in rule}
