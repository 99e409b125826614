"""The chart's values reference in docs/16-deployment.md, generated from values.schema.json (types,
descriptions) and values.yaml (defaults). `python -m tests.chart.values_reference` rewrites the
part between the markers; `test_values_reference_is_current` fails when it is stale."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "fastapi-platform"
DOCS = ROOT / "docs" / "16-deployment.md"
BEGIN = "<!-- values-reference:begin (generated: python -m tests.chart.values_reference) -->"
END = "<!-- values-reference:end -->"
# Objects listed as one row: their inner keys are Kubernetes' own or free-form.
OPAQUE = {
    "config",
    "podSecurityContext",
    "securityContext",
    "resources",
    "affinity",
    "nodeSelector",
    "podAnnotations",
    "podLabels",
    "annotations",
    "labels",
    "commonLabels",
    "startupProbe",
    "livenessProbe",
    "readinessProbe",
    "apiFrom",
    "metricsFrom",
}


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[1]
        node = {**schema["definitions"][name], **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def _type(node: dict[str, Any]) -> str:
    if "enum" in node and node.get("type") == "string":
        return " \\| ".join(f"`{v}`" for v in node["enum"] if v != "")
    kind = node.get("type", "object")
    return " or ".join(kind) if isinstance(kind, list) else str(kind)


def _default(value: Any) -> str:
    if value in ("", [], {}, None):
        return "" if value is None else f"`{json.dumps(value)}`"
    text = json.dumps(value) if not isinstance(value, str) else value
    return f"`{text}`" if len(text) <= 60 else f"`{text[:57]}...`"


def rows(schema: dict[str, Any], node: dict[str, Any], values: Any, path: str) -> list[str]:
    node = _resolve(schema, node)
    out: list[str] = []
    name = path.rsplit(".", 1)[-1]
    props = node.get("properties")
    if props and name not in OPAQUE:
        if path and node.get("description"):
            out.append(f"| `{path}` | object | | {node['description']} |")
        for key, child in props.items():
            value = values.get(key) if isinstance(values, dict) else None
            out += rows(schema, child, value, f"{path}.{key}" if path else key)
        return out
    description = node.get("description", "").replace("|", "\\|")
    out.append(f"| `{path}` | {_type(node)} | {_default(values)} | {description} |")
    return out


def reference() -> str:
    schema = json.loads((CHART / "values.schema.json").read_text())
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    lines = ["| Key | Type | Default | What it does |", "|---|---|---|---|"]
    lines += rows(schema, schema, values, "")
    return "\n".join(lines)


def current_docs() -> str:
    text = DOCS.read_text()
    found = re.search(re.escape(BEGIN) + r"\n(.*?)\n" + re.escape(END), text, re.DOTALL)
    return found.group(1) if found else ""


def write() -> None:
    text = DOCS.read_text()
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    DOCS.write_text(text[:start] + "\n" + reference() + "\n" + text[end:])


if __name__ == "__main__":
    write()
    sys.stdout.write(f"{DOCS.relative_to(ROOT)}: values reference rewritten\n")
