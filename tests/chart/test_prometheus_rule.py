"""The chart's PrometheusRule is files/prometheus-rules.yaml (the file promtool tests), rendered
when the cluster has the operator's API or force is set; its values leave alerts out, label them,
point them at other runbooks and add rules; the monitors scrape under the jobs the rules select."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any, Final

import pytest
import yaml

from tests.chart.chart import HelmError, Render, validate_custom_resources
from tests.monitoring.rules import RULES_FILE, RUNBOOKS, groups, run_promtool

RULE_API: Final = ("monitoring.coreos.com/v1/PrometheusRule",)
MONITOR_APIS: Final = (
    "monitoring.coreos.com/v1/ServiceMonitor",
    "monitoring.coreos.com/v1/PodMonitor",
)
ENABLED: Final = {"metrics.prometheusRule.enabled": "true"}
EXTRA_ALERT: Final = {
    "alert": "ShopNoOrders",
    "expr": 'sum(rate(http_requests_total{job="fastapi-platform-api", status="201"}[1h])) == 0',
    "for": "1h",
    "labels": {"severity": "warning"},
    "annotations": {"summary": "No orders", "runbook_url": "https://wiki.example.com/no-orders"},
}

Doc = dict[str, Any]


def _rule(documents: list[Doc]) -> Doc:
    found = [d for d in documents if d["kind"] == "PrometheusRule"]
    assert len(found) == 1, [d["metadata"]["name"] for d in found]
    return found[0]


def _alerts(rule: Doc) -> dict[str, Doc]:
    return {r["alert"]: r for g in rule["spec"]["groups"] for r in g["rules"] if "alert" in r}


def test_the_rule_is_the_rules_file(render: Render) -> None:
    rule = _rule(render("minimal-values.yaml", api_versions=RULE_API, set_values=ENABLED))
    assert rule["spec"]["groups"] == groups()
    assert rule["metadata"]["namespace"] == "fastapi-platform"
    assert rule["metadata"]["labels"]["app.kubernetes.io/component"] == "monitoring"


def test_the_rule_needs_the_api_or_force(render: Render) -> None:
    documents = render("minimal-values.yaml", set_values=ENABLED)
    assert not [d for d in documents if d["kind"] == "PrometheusRule"]
    forced = render(
        "minimal-values.yaml", set_values={**ENABLED, "metrics.prometheusRule.force": "true"}
    )
    assert _rule(forced)
    assert not [
        d
        for d in render("minimal-values.yaml", api_versions=RULE_API)
        if d["kind"] == "PrometheusRule"
    ], "rendered without metrics.prometheusRule.enabled"


def test_values_label_leave_out_repoint_and_add(render: Render) -> None:
    values: dict[str, Any] = {
        **ENABLED,
        "metrics.prometheusRule.labels": {"release": "kube-prometheus-stack"},
        "metrics.prometheusRule.alertLabels": {"team": "shop", "severity": "info"},
        "metrics.prometheusRule.disabledAlerts": ["FastAPIPlatformBeatDuplicated"],
        "metrics.prometheusRule.runbookBaseUrl": "https://example.com/v2/docs/",
        "metrics.prometheusRule.extraRules": [EXTRA_ALERT],
    }
    rule = _rule(render("minimal-values.yaml", api_versions=RULE_API, set_values=values))
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    alerts = _alerts(rule)
    original = {r["alert"]: r for g in groups() for r in g["rules"] if "alert" in r}
    assert set(alerts) == set(original) - {"FastAPIPlatformBeatDuplicated"} | {"ShopNoOrders"}
    for name, alert in alerts.items():
        assert alert["labels"]["team"] == "shop", name
        if name in original:
            # The alert's own severity wins; only the runbooks' base changes.
            assert alert["labels"]["severity"] == original[name]["labels"]["severity"], name
            url = original[name]["annotations"]["runbook_url"]
            assert alert["annotations"]["runbook_url"] == url.replace(
                RUNBOOKS, "https://example.com/v2/docs/"
            )
            assert alert["expr"] == original[name]["expr"]
    assert alerts["ShopNoOrders"]["annotations"] == EXTRA_ALERT["annotations"]
    assert rule["spec"]["groups"][-1]["name"] == "fastapi-platform.extra"


def test_a_disabled_alert_the_file_lacks_fails_the_render(render: Render) -> None:
    values = {**ENABLED, "metrics.prometheusRule.disabledAlerts": ["FastAPIPlatformNoSuchAlert"]}
    with pytest.raises(HelmError) as failure:
        render("minimal-values.yaml", api_versions=RULE_API, set_values=values)
    assert (
        "no alert FastAPIPlatformNoSuchAlert in files/prometheus-rules.yaml" in failure.value.stderr
    )


def test_the_rendered_rule_validates_and_promtool_accepts_its_groups(
    render: Render, tools_python: Path, tmp_path: Path
) -> None:
    values = {**ENABLED, "metrics.prometheusRule.extraRules": [EXTRA_ALERT]}
    rule = _rule(render("production-values.yaml", api_versions=RULE_API, set_values=values))
    assert not validate_custom_resources(tools_python, [rule])
    plain = tmp_path / "rendered-rules.yaml"
    plain.write_text(yaml.safe_dump({"groups": copy.deepcopy(rule["spec"]["groups"])}))
    result = run_promtool("check", "rules", plain)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_monitors_scrape_under_the_jobs_the_rules_select(render: Render) -> None:
    documents = render("gitops-values.yaml", api_versions=MONITOR_APIS)
    jobs = {}
    for kind, endpoints in (("ServiceMonitor", "endpoints"), ("PodMonitor", "podMetricsEndpoints")):
        (monitor,) = [d for d in documents if d["kind"] == kind]
        (endpoint,) = monitor["spec"][endpoints]
        (relabeling,) = [r for r in endpoint["relabelings"] if r.get("targetLabel") == "job"]
        assert relabeling["action"] == "replace"
        jobs[kind] = relabeling["replacement"]
    assert jobs == {
        "ServiceMonitor": "fastapi-platform-api",
        "PodMonitor": "fastapi-platform-worker",
    }
    selected = set(re.findall(r'job=~?"([^"]+)"', RULES_FILE.read_text()))
    named = {job for pattern in selected for job in pattern.split("|")}
    assert named == set(jobs.values())
