"""The chart ships the Grafana dashboards (dashboards/*.json, the files tests/monitoring checks)
as ConfigMaps for Grafana's dashboard sidecar: off by default, one ConfigMap per file holding it
unchanged, with the sidecar's label and the folder annotation, in the release's namespace or
Grafana's."""

from __future__ import annotations

import json
from typing import Any, Final

import pytest

from tests.chart.chart import HelmError, Render
from tests.monitoring.dashboards import DASHBOARDS_DIR

ENABLED: Final = {"metrics.dashboards.enabled": "true"}

Doc = dict[str, Any]


def _dashboards(documents: list[Doc]) -> dict[str, Doc]:
    """The dashboard ConfigMaps, by the file they hold."""
    found: dict[str, Doc] = {}
    for doc in documents:
        if doc["kind"] == "ConfigMap" and doc["metadata"]["name"].startswith(
            "fp-fastapi-platform-dashboard-"
        ):
            (key,) = doc["data"]
            found[key] = doc
    return found


def test_no_dashboards_unless_enabled(render: Render) -> None:
    assert _dashboards(render("minimal-values.yaml")) == {}


def test_one_config_map_per_dashboard_holding_the_file_unchanged(render: Render) -> None:
    found = _dashboards(render("minimal-values.yaml", set_values=ENABLED))
    files = {path.name: path for path in DASHBOARDS_DIR.glob("*.json")}
    assert set(found) == set(files)
    for name, doc in found.items():
        assert json.loads(doc["data"][name]) == json.loads(files[name].read_text()), name
        assert (
            doc["metadata"]["name"] == f"fp-fastapi-platform-dashboard-{name.removesuffix('.json')}"
        )
        assert doc["metadata"]["namespace"] == "fastapi-platform"
        labels = doc["metadata"]["labels"]
        assert labels["grafana_dashboard"] == "1"
        assert labels["app.kubernetes.io/component"] == "monitoring"
        assert doc["metadata"]["annotations"] == {"grafana_folder": "FastAPI platform"}
        # A ConfigMap holds at most 1 MiB.
        assert len(doc["data"][name].encode()) < 1024 * 1024


def test_labels_annotations_and_namespace_follow_the_values(render: Render) -> None:
    values = {
        **ENABLED,
        "metrics.dashboards.labels": {"grafana_dashboard": None, "dashboards": "shop"},
        "metrics.dashboards.annotations": {
            "grafana_folder": None,
            "k8s-sidecar-target-directory": "shop",
        },
        "metrics.dashboards.namespace": "monitoring",
    }
    found = _dashboards(render("minimal-values.yaml", set_values=values))
    assert found
    for doc in found.values():
        assert doc["metadata"]["namespace"] == "monitoring"
        assert doc["metadata"]["labels"]["dashboards"] == "shop"
        assert "grafana_dashboard" not in doc["metadata"]["labels"]
        assert doc["metadata"]["annotations"] == {"k8s-sidecar-target-directory": "shop"}


def test_a_dashboard_without_a_label_for_the_sidecar_is_refused(render: Render) -> None:
    values = {**ENABLED, "metrics.dashboards.labels": {"grafana_dashboard": None}}
    with pytest.raises(HelmError) as failure:
        render("minimal-values.yaml", set_values=values)
    assert "metrics.dashboards.labels" in failure.value.stderr.replace("/", "."), (
        failure.value.stderr
    )


def test_the_production_values_ship_them(render: Render) -> None:
    found = _dashboards(render("production-values.yaml"))
    assert {doc["metadata"]["annotations"]["grafana_folder"] for doc in found.values()} == {"Shop"}
    assert len(found) == len(list(DASHBOARDS_DIR.glob("*.json")))
