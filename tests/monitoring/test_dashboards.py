"""The Grafana dashboards (charts/fastapi-platform/dashboards/*.json) are dashboards of a current
Grafana, on a Prometheus data source chosen by a variable, and read only series that exist: the
metrics of the guide's tables (docs/06 and docs/11) under their labels, selected by the platform's
scrape jobs, or the recording rules of files/prometheus-rules.yaml. Without services; the queries
themselves run against a real Prometheus in tests/integration/test_dashboards_prometheus.py."""

from __future__ import annotations

import re
from itertools import combinations

import pytest

from tests.monitoring.dashboards import (
    DASHBOARDS_DIR,
    DATASOURCE,
    GRAFANA_VARIABLES,
    JOBS,
    LABEL_VALUES,
    ROOT,
    TARGET_LABELS,
    documented_metrics,
    documented_series,
    grouping_labels,
    panels,
    queries,
    recorded_series,
    references,
    scraped_labels,
    selectors,
    substitute,
    variable_query,
    variables,
)
from tests.monitoring.dashboards import dashboards as load_dashboards

# Grafana 12's dashboard schema; a Grafana older than 12 migrates nothing and shows it as it is.
SCHEMA_VERSION = 41
EXPECTED = {"api", "background", "data-stores", "business"}
# Beyond the guide's tables: Prometheus's own series for each target.
PROMETHEUS_SERIES = {"up"}
# The labels of the recording rules' series (namespace_route_group:..., namespace:...).
RECORDED_LABELS = TARGET_LABELS | {"route_group"}

BOARDS = load_dashboards()
QUERIES = queries(BOARDS)


def test_the_four_dashboards_are_there() -> None:
    assert set(BOARDS) == EXPECTED, sorted(BOARDS)
    assert len(QUERIES) > 40


@pytest.mark.parametrize("stem", sorted(EXPECTED))
def test_each_is_a_dashboard_of_a_current_grafana(stem: str) -> None:
    board = BOARDS[stem]
    assert board["schemaVersion"] == SCHEMA_VERSION
    assert board["id"] is None, "an exported id would clash with the Grafana it is imported into"
    assert board["uid"] == f"fastapi-platform-{stem}"
    assert len(board["uid"]) <= 40  # Grafana's limit
    assert board["title"].startswith("FastAPI platform / ")
    assert "fastapi-platform" in board["tags"]
    assert board["description"].strip()
    ids = [panel["id"] for panel in panels(board)]
    assert len(ids) == len(set(ids)), "panel ids repeat"
    titles = [panel["title"] for panel in panels(board)]
    assert len(titles) == len(set(titles)), "panel titles repeat (tests name panels by title)"
    for panel in panels(board):
        assert panel["title"].strip(), panel
        if panel["type"] != "row":
            assert panel.get("description", "").strip(), f"{stem}: {panel['title']} says nothing"
            assert panel["targets"], f"{stem}: {panel['title']} has no query"


def test_titles_are_unique_across_dashboards() -> None:
    titles = [board["title"] for board in BOARDS.values()]
    assert len(titles) == len(set(titles))


@pytest.mark.parametrize("stem", sorted(EXPECTED))
def test_panels_sit_on_the_grid_without_overlapping(stem: str) -> None:
    boxes = []
    for panel in panels(BOARDS[stem]):
        pos = panel["gridPos"]
        assert pos["x"] >= 0, panel["title"]
        assert pos["w"] > 0, panel["title"]
        assert pos["x"] + pos["w"] <= 24, panel["title"]
        boxes.append((panel["title"], pos))
    for (one, a), (other, b) in combinations(boxes, 2):
        apart = (
            a["x"] + a["w"] <= b["x"]
            or b["x"] + b["w"] <= a["x"]
            or a["y"] + a["h"] <= b["y"]
            or b["y"] + b["h"] <= a["y"]
        )
        assert apart, f"{stem}: {one!r} and {other!r} overlap"


@pytest.mark.parametrize("stem", sorted(EXPECTED))
def test_every_query_goes_to_the_chosen_prometheus(stem: str) -> None:
    board = BOARDS[stem]
    (chooser,) = [v for v in variables(board) if v["name"] == "datasource"]
    assert chooser["type"] == "datasource"
    assert chooser["query"] == "prometheus"
    for panel in panels(board):
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == DATASOURCE, panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == DATASOURCE, panel["title"]
    for variable in variables(board):
        if variable["type"] == "query":
            assert variable["datasource"] == DATASOURCE, variable["name"]


@pytest.mark.parametrize("stem", sorted(EXPECTED))
def test_every_dashboard_has_a_namespace_variable_over_the_platform_s_targets(stem: str) -> None:
    (namespace,) = [v for v in variables(BOARDS[stem]) if v["name"] == "namespace"]
    found = LABEL_VALUES.match(variable_query(namespace))
    assert found, variable_query(namespace)
    assert found["label"] == "namespace"
    # "All" matches every namespace, and series without the label (outside Kubernetes).
    assert namespace["includeAll"] is True
    assert namespace["allValue"] == ".*"


def test_every_variable_a_query_names_is_defined() -> None:
    for stem, board in BOARDS.items():
        defined = {v["name"] for v in variables(board)} | GRAFANA_VARIABLES
        texts = [q.expr for q in QUERIES if q.dashboard == stem]
        texts += [variable_query(v) for v in variables(board) if v["type"] == "query"]
        for text in texts:
            assert references(text) <= defined, f"{stem}: {sorted(references(text) - defined)}"


def test_the_panels_read_only_documented_metrics_or_recorded_rules() -> None:
    known = set(documented_series()) | recorded_series() | PROMETHEUS_SERIES
    for query in QUERIES:
        names = {selector.name for selector in selectors(query.expr)}
        assert names, f"{query}: reads no metric"
        assert names <= known, f"{query}: {sorted(names - known)} in no metric table nor rule"


def test_the_dashboards_cover_every_documented_metric() -> None:
    """A metric added to a table needs a panel too."""
    read = {selector.name for query in QUERIES for selector in selectors(query.expr)}
    missing = {
        name
        for name, metric in documented_metrics().items()
        if name not in read
        and {f"{name}_{part}" for part in ("bucket", "sum", "count")}.isdisjoint(read)
    }
    assert documented_metrics()
    assert not missing, f"metrics no panel shows: {sorted(missing)}"


def test_platform_series_are_selected_by_job_and_namespace() -> None:
    """Another application's http_requests_total in the same Prometheus is never shown, and the
    namespace variable applies to every panel."""
    jobs = set(JOBS)
    recorded = recorded_series()
    for query in QUERIES:
        for selector in selectors(query.expr):
            assert selector.matcher("namespace") == ("=~", "$namespace"), f"{query}: {selector}"
            if selector.name in recorded:
                continue
            job = selector.matcher("job")
            assert job is not None, f"{query}: {selector.name} without a job"
            operator, value = job
            named = {value} if operator == "=" else set(value.split("|"))
            assert operator in {"=", "=~"}, f"{query}: {job}"
            assert named <= jobs or value == "$job", f"{query}: {job}"


def test_queries_group_by_the_metrics_own_labels_only() -> None:
    """Low-cardinality labels only: a metric's documented labels (under the names Prometheus
    stores them), the target's and the buckets'; never an id, a user or a raw path."""
    series = documented_series()
    recorded = recorded_series()
    for query in QUERIES:
        allowed: set[str] = set(TARGET_LABELS)
        for selector in selectors(query.expr):
            if selector.name in series:
                allowed |= scraped_labels(series[selector.name])
            elif selector.name in recorded:
                allowed |= RECORDED_LABELS
            for label, _, _ in selector.matchers:
                assert label in allowed, f"{query}: {selector.name} has no label {label}"
        used = grouping_labels(query.expr)
        assert used <= allowed, f"{query}: grouped by {sorted(used - allowed)}"
        legend_labels = set(re.findall(r"\{\{\s*(\w+)\s*\}\}", query.legend))
        assert legend_labels <= allowed, f"{query}: legend names {sorted(legend_labels - allowed)}"


def test_the_query_reader_finds_selectors_groupings_and_variables() -> None:
    expr = (
        'sum by (method, le) (rate(a_total{job="x", route=~"/api/(v1)"}[$__rate_interval])) '
        '/ ignoring (le) b:c:rate5m{namespace=~"$namespace"} > bool 0.5 unless time() - d '
        "or vector(0) * 1e3"
    )
    assert [(s.name, s.matchers) for s in selectors(expr)] == [
        ("a_total", (("job", "=", "x"), ("route", "=~", "/api/(v1)"))),
        ("b:c:rate5m", (("namespace", "=~", "$namespace"),)),
        ("d", ()),
    ]
    assert grouping_labels(expr) == {"method", "le"}
    assert references(expr + " ${route} [[job]] ${x:regex}") == {
        "__rate_interval", "namespace", "route", "job", "x",
    }  # fmt: skip
    assert substitute("a{n=~\"$namespace\"}[$__rate_interval] $namespacex", {
        "namespace": "shop", "__rate_interval": "5m",
    }) == 'a{n=~"shop"}[5m] $namespacex'  # fmt: skip


def test_the_metric_tables_are_read() -> None:
    metrics = documented_metrics()
    assert metrics["http_request_duration_seconds"].kind == "histogram"
    assert metrics["http_requests_total"].label_names == {"method", "route", "status"}
    assert metrics["db_pool_size"].label_names == frozenset()
    assert scraped_labels(metrics["cache_lookups_total"]) >= {"kind", "outcome"}
    assert (DASHBOARDS_DIR.relative_to(ROOT)).as_posix() == "charts/fastapi-platform/dashboards"


def test_no_metric_has_a_label_a_scrape_target_owns() -> None:
    """A label named like a target's (job, namespace...) is renamed exported_<label> at the
    scrape: every query would have to know it. The platform's metrics use other names."""
    clashes = {
        name: sorted(metric.label_names & TARGET_LABELS)
        for name, metric in documented_metrics().items()
        if metric.label_names & TARGET_LABELS
    }
    assert clashes == {}
