"""The Helm chart tests lint, render and validate ``charts/fastapi-platform`` (or ``CHART_DIR``).
They install their tools on first use (helm, kubectl, kubernetes-validate, checkov: minutes the
first time), so they run only through ``make chart-test`` (CHART_TEST=1).

Fixtures for chart tests: ``chart_dir``, ``helm``, ``kubectl`` (paths), ``render`` and
``render_text`` (``helm template`` with release ``fp`` in namespace ``fastapi-platform``)::

    def test_api_replicas(render: Render) -> None:
        documents = render(
            ["production-values.yaml"],
            api_versions=OPTIONAL_API_VERSIONS,
            set_values={"api.replicas": 3},
        )
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import pytest

from tests.chart import tools
from tests.chart.chart import CHART_DIR, CHECKOV_SKIPS, Helm, Render, RenderText

T = TypeVar("T")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("CHART_TEST") == "1":
        return
    skip = pytest.mark.skip(reason="chart tests run with `make chart-test` (CHART_TEST=1)")
    for item in items:
        if "tests/chart/" in str(item.path).replace("\\", "/"):
            item.add_marker(skip)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if CHECKOV_SKIPS:
        terminalreporter.section("checkov checks the chart skips (checkov.io/skipN annotations)")
        for line, files in sorted(CHECKOV_SKIPS.items()):
            terminalreporter.write_line(f"{line} [{', '.join(sorted(set(files)))}]")


@contextmanager
def _shown(config: pytest.Config) -> Iterator[None]:
    """Install progress goes to the terminal as it happens, not into a test's captured output."""
    capture = config.pluginmanager.getplugin("capturemanager")
    if capture is None:
        yield
        return
    with capture.global_and_fixture_disabled():
        if capture.is_globally_capturing():
            print()  # noqa: T201 - off the line of progress dots
        yield


def _install(config: pytest.Config, tool: Callable[[], T]) -> T:
    with _shown(config):
        return tool()


@pytest.fixture(scope="session")
def chart_dir() -> Path:
    if not (CHART_DIR / "Chart.yaml").is_file():
        pytest.fail(f"no chart at {CHART_DIR} (CHART_DIR)")
    return CHART_DIR


@pytest.fixture(scope="session")
def helm(pytestconfig: pytest.Config) -> Path:
    return _install(pytestconfig, tools.helm)


@pytest.fixture(scope="session")
def kubectl(pytestconfig: pytest.Config) -> Path:
    return _install(pytestconfig, tools.kubectl)


@pytest.fixture(scope="session")
def tools_python(pytestconfig: pytest.Config) -> Path:
    """The chart tools venv's python (jsonschema, kubernetes-validate, checkov)."""
    return _install(pytestconfig, tools.tools_python)


@pytest.fixture(scope="session")
def kubernetes_validate(tools_python: Path) -> Path:
    return tools.kubernetes_validate()


@pytest.fixture(scope="session")
def checkov(tools_python: Path) -> Path:
    return tools.checkov()


@pytest.fixture(scope="session")
def chart(helm: Path, chart_dir: Path) -> Helm:
    return Helm.create(helm, chart_dir)


@pytest.fixture(scope="session")
def render(chart: Helm) -> Render:
    """render(values_files, *, kube_version="1.33.0", api_versions=(), set_values=None)
    -> list[dict]: the parsed documents of ``helm template``; HelmError (helm's stderr) if it
    fails. A bare file name is looked up in the chart's ci/ folder. set_values: a string
    value goes through --set (helm's typing: "true" is a bool), any other through --set-json."""
    return chart.render


@pytest.fixture(scope="session")
def render_text(chart: Helm) -> RenderText:
    """Like ``render``, returning helm's output as text."""
    return chart.render_text
