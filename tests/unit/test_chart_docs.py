"""Chapter 16 stays true to the chart: its values reference is generated from the chart's schema
and values (python -m tests.chart.values_reference rewrites it)."""

from __future__ import annotations

from tests.chart.values_reference import current_docs, reference


def test_values_reference_is_current() -> None:
    assert current_docs() == reference(), (
        "docs/16-deployment.md's values reference is stale: run "
        "`.venv/bin/python -m tests.chart.values_reference`"
    )


def test_values_reference_lists_every_top_level_value() -> None:
    table = reference()
    for key in ("api.replicas", "worker.groups", "migrations.useHelmHooks", "pgbouncer.enabled"):
        assert f"| `{key}` |" in table, key
