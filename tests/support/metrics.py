"""Prometheus samples as the tests read them, from the process's default registry."""

from __future__ import annotations

from prometheus_client import REGISTRY


def label_values(metric: str, label: str) -> set[str]:
    """The values ``label`` takes across the counter ``metric``'s series (``<metric>_total``)."""
    return {
        sample.labels[label]
        for family in REGISTRY.collect()
        if family.name == metric
        for sample in family.samples
        if sample.name == f"{metric}_total"
    }
