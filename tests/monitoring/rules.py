"""The platform's Prometheus rules file, its promtool unit tests, and promtool itself.

``charts/fastapi-platform/files/prometheus-rules.yaml`` is the one copy of the rules: Prometheus
loads it as it is (``rule_files``), the chart wraps it in a PrometheusRule, and
``prometheus-rules.test.yaml`` beside this module tests it with ``promtool test rules``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Final

import pytest
import yaml

ROOT: Final = Path(__file__).resolve().parents[2]
RULES_FILE: Final = ROOT / "charts" / "fastapi-platform" / "files" / "prometheus-rules.yaml"
RULES_TESTS: Final = Path(__file__).parent / "prometheus-rules.test.yaml"
DOCS: Final = ROOT / "docs"
RUNBOOKS: Final = "https://github.com/fastapi-platform/fastapi-platform/blob/main/docs/"

Rule = dict[str, Any]


def groups(path: Path = RULES_FILE) -> list[dict[str, Any]]:
    loaded: dict[str, Any] = yaml.safe_load(path.read_text())
    return list(loaded["groups"])


def rules(path: Path = RULES_FILE) -> Iterator[Rule]:
    for group in groups(path):
        yield from group["rules"]


def alerts(path: Path = RULES_FILE) -> list[Rule]:
    return [rule for rule in rules(path) if "alert" in rule]


def promtool() -> str:
    """promtool's path; the test is skipped without it, except in CI (CI=true), where it must
    run: ``.ci/run`` and the workflow install it (Debian's and Ubuntu's prometheus package)."""
    found = shutil.which("promtool")
    if found:
        return found
    if os.environ.get("CI") == "true":
        pytest.fail("promtool is not installed, and CI=true: install the prometheus package")
    pytest.skip("promtool is not installed (apt-get install prometheus); CI installs it")


def run_promtool(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - promtool with our files
        [promtool(), *(str(arg) for arg in args)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def github_anchors(markdown: str) -> set[str]:
    """The anchors GitHub gives a page's headings: lower case, punctuation but - and _ dropped,
    spaces as -, and -1, -2... for repeats. Headings in fenced code blocks are not headings."""
    anchors: set[str] = set()
    seen: dict[str, int] = {}
    fenced = False
    for line in markdown.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        match = re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
        if fenced or not match:
            continue
        slug = re.sub(r"[^\w\- ]", "", match.group(1).lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


# Removed in this order: strings (which may hold braces), then label matchers, ranges and
# subqueries, and label lists.
_SKIPPED: Final = (
    re.compile(r'"(?:[^"\\]|\\.)*"'),
    re.compile(r"\{[^}]*\}|\[[^\]]*\]"),
    re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)"),
)
_KEYWORDS: Final = frozenset({"and", "or", "unless", "offset", "bool", "by", "on", "ignoring"})


def metric_names(expressions: Sequence[str]) -> set[str]:
    """The metric names a PromQL expression reads (function names and keywords left out)."""
    names: set[str] = set()
    for expression in expressions:
        stripped = expression
        for skipped in _SKIPPED:
            stripped = skipped.sub(" ", stripped)
        for match in re.finditer(r"(?<![\w:.])([A-Za-z_:][\w:]*)(\s*\()?", stripped):
            if not match.group(2) and match.group(1) not in _KEYWORDS:
                names.add(match.group(1))
    return names
