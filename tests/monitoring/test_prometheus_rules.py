"""The alerts and SLO rules (charts/fastapi-platform/files/prometheus-rules.yaml) are valid, tested
firing and not firing by promtool, documented, and read only metrics that exist."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from tests.monitoring.rules import (
    DOCS,
    ROOT,
    RULES_FILE,
    RULES_TESTS,
    RUNBOOKS,
    alerts,
    github_anchors,
    groups,
    metric_names,
    rules,
    run_promtool,
)

SEVERITIES = {"critical", "warning"}
# Read from kube-state-metrics and Prometheus itself, not from the platform.
EXTERNAL_METRICS = {
    "up",
    "kube_deployment_spec_replicas",
    "kube_deployment_status_replicas_available",
    "kube_job_status_failed",
    "kube_job_status_succeeded",
    "kube_pod_status_phase",
}
METRIC_CLASSES = {"Counter": "counter", "Gauge": "gauge", "Histogram": "histogram"}


def _app_metrics() -> dict[str, tuple[str, ast.Call]]:
    """Every metric app/ defines: name -> (type, the constructor call)."""
    found: dict[str, tuple[str, ast.Call]] = {}
    for path in (ROOT / "app").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            function = node.func
            name = function.id if isinstance(function, ast.Name) else getattr(function, "attr", "")
            first = node.args[0]
            if name in METRIC_CLASSES and isinstance(first, ast.Constant):
                found[str(first.value)] = (METRIC_CLASSES[name], node)
    return found


def _served_series() -> set[str]:
    series: set[str] = set()
    for name, (kind, _) in _app_metrics().items():
        if kind == "histogram":
            series |= {f"{name}_bucket", f"{name}_count", f"{name}_sum"}
        else:
            series.add(name)
    return series


def _promtool_cases() -> list[dict[str, Any]]:
    loaded: dict[str, Any] = yaml.safe_load(RULES_TESTS.read_text())
    return [case for test in loaded["tests"] for case in test.get("alert_rule_test", [])]


def test_promtool_check_rules_accepts_the_rules() -> None:
    result = run_promtool("check", "rules", RULES_FILE)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout, result.stdout


def test_promtool_unit_tests_pass() -> None:
    result = run_promtool("test", "rules", RULES_TESTS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr


def test_the_unit_tests_read_the_chart_s_rules_file() -> None:
    loaded = yaml.safe_load(RULES_TESTS.read_text())
    assert [(RULES_TESTS.parent / f).resolve() for f in loaded["rule_files"]] == [RULES_FILE]


def test_every_alert_is_tested_firing_and_not_firing() -> None:
    names = {rule["alert"] for rule in alerts()}
    cases = _promtool_cases()
    firing = {case["alertname"] for case in cases if case.get("exp_alerts")}
    quiet = {case["alertname"] for case in cases if not case.get("exp_alerts")}
    assert not names - firing, f"never seen firing: {sorted(names - firing)}"
    assert not names - quiet, f"never seen quiet: {sorted(names - quiet)}"
    assert not (firing | quiet) - names, f"tests of no alert: {sorted((firing | quiet) - names)}"


def test_every_alert_has_a_severity_a_summary_a_description_and_a_runbook() -> None:
    for rule in alerts():
        name = rule["alert"]
        assert name.startswith("FastAPIPlatform"), f"{name}: names share the platform's prefix"
        assert rule.get("labels", {}).get("severity") in SEVERITIES, name
        annotations = rule.get("annotations", {})
        for key in ("summary", "description", "runbook_url"):
            assert str(annotations.get(key, "")).strip(), f"{name}: no {key}"


def test_every_runbook_url_is_a_section_of_the_guide() -> None:
    chart = yaml.safe_load((RULES_FILE.parents[1] / "Chart.yaml").read_text())
    assert f"{chart['home']}/blob/main/docs/" == RUNBOOKS  # the chart replaces this prefix
    for rule in alerts():
        url = rule["annotations"]["runbook_url"]
        assert url.startswith(RUNBOOKS), f"{rule['alert']}: {url} is not in the guide"
        page, _, anchor = urlsplit(url.removeprefix(RUNBOOKS)).geturl().partition("#")
        path = DOCS / page
        assert path.is_file(), f"{rule['alert']}: no page docs/{page}"
        assert anchor in github_anchors(path.read_text()), (
            f"{rule['alert']}: docs/{page} has no section #{anchor}"
        )
        assert anchor == rule["alert"].lower(), f"{rule['alert']}: its runbook is its own section"


def test_names_are_unique() -> None:
    names = [group["name"] for group in groups()]
    assert len(names) == len(set(names))
    alert_names = [rule["alert"] for rule in alerts()]
    assert len(alert_names) == len(set(alert_names))


def test_every_metric_the_rules_read_is_recorded_here_or_served() -> None:
    recorded = {rule["record"] for rule in rules() if "record" in rule}
    read = metric_names([str(rule["expr"]) for rule in rules()])
    unknown = read - recorded - EXTERNAL_METRICS - _served_series()
    assert not unknown, f"the rules read metrics nothing serves: {sorted(unknown)}"
    assert all(name.count(":") >= 2 for name in recorded), "recorded names: level:metric:operations"


def test_the_latency_slo_threshold_is_a_bucket_of_the_histogram() -> None:
    _, call = _app_metrics()["http_request_duration_seconds"]
    buckets = next(k.value for k in call.keywords if k.arg == "buckets")
    assert isinstance(buckets, ast.Tuple)
    bounds = {float(ast.literal_eval(element)) for element in buckets.elts}
    expressions = " ".join(str(rule["expr"]) for rule in rules())
    used = re.findall(r'http_request_duration_seconds_bucket\{[^}]*le="([^"]+)"', expressions)
    assert used, "the latency SLO reads no bucket"
    for le in used:
        assert float(le) in bounds, f'le="{le}" is not a bucket of http_request_duration_seconds'


def test_the_metric_name_reader_finds_names_and_skips_the_rest() -> None:
    expression = (
        'sum by (namespace, le) (rate(a_total{job="x", route=~"/api/(v1)"}[5m])) '
        "and on (pod) b_seconds offset 10m / ignoring (le) c:d:rate5m > 0.5 unless e"
    )
    assert metric_names([expression]) == {"a_total", "b_seconds", "c:d:rate5m", "e"}


def test_the_anchor_reader_follows_github() -> None:
    page = "# A title\n## The SLOs, and why these numbers\n```\n# not a heading\n```\n## A title\n"
    assert github_anchors(page) == {"a-title", "the-slos-and-why-these-numbers", "a-title-1"}


def test_the_rules_file_lives_where_the_chart_reads_it() -> None:
    template = RULES_FILE.parents[1] / "templates" / "prometheusrule.yaml"
    assert '.Files.Get "files/prometheus-rules.yaml"' in template.read_text()
    assert Path(RULES_FILE).relative_to(ROOT).as_posix() in (DOCS / "16-deployment.md").read_text()


def test_each_periodic_job_is_late_after_twice_its_default_interval() -> None:
    from app.bootstrap.settings import CelerySettings  # noqa: PLC0415
    from app.bootstrap.worker.platform_tasks import PURGE, RELAY_OUTBOX  # noqa: PLC0415
    from app.ordering.presentation.tasks import (  # noqa: PLC0415
        EXPIRE_OVERDUE_ORDERS,
        ROLL_UP_DAILY_SALES,
    )

    (rule,) = [r for r in alerts() if r["alert"] == "FastAPIPlatformPeriodicJobLate"]
    limits = {
        job: float(seconds)
        for seconds, job in re.findall(
            r'label_replace\(vector\((\d+)\), "task", "([^"]+)"', rule["expr"]
        )
    }
    fields = CelerySettings.model_fields
    intervals = {
        RELAY_OUTBOX: fields["outbox_sweep_seconds"].default,
        EXPIRE_OVERDUE_ORDERS: fields["expire_orders_seconds"].default,
        ROLL_UP_DAILY_SALES: fields["sales_rollup_seconds"].default,
        PURGE: fields["purge_seconds"].default,
    }
    # Twice the interval, but never under 2 minutes: a few scrapes of the gauge.
    assert limits == {job: max(2 * interval, 120.0) for job, interval in intervals.items()}
