"""Generic checks over every scenario in the chart's ci/ folder (see tests/chart/README.md):

- ``helm lint --strict`` passes for every ``ci/*-values.yaml``;
- every ``ci/bad-*.yaml`` makes ``helm template`` fail with the message its first line states
  (``# expect: <substring of helm's stderr>``);
- the manifests of every good file, rendered for Kubernetes 1.30, 1.33 and 1.35 with the
  optional API versions (Prometheus operator, KEDA, Gateway API), validate strictly: built-in
  kinds with kubernetes-validate, custom resources against the CRD schemas in schemas/crds/
  (a kind with neither fails);
- checkov finds nothing in them (a check the chart skips on purpose carries its reason in a
  ``checkov.io/skipN: CKV_K8S_NN=reason`` annotation and is listed in the summary).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.chart.chart import (
    CHECKOV_SKIPS,
    KUBE_VERSIONS,
    OPTIONAL_API_VERSIONS,
    CheckovFindings,
    Helm,
    HelmError,
    Render,
    RenderText,
    bad_values_files,
    checkov_line,
    crd_schema,
    expected_message,
    good_values_files,
    in_tools_venv,
    run_checkov,
    run_kubernetes_validate,
    validate_custom_resources,
)

GOOD = good_values_files()
BAD = bad_values_files()
SCENARIOS = {
    "minimal-values.yaml": "the least a user must set",
    "bundled-values.yaml": "development PostgreSQL and Redis from the chart",
    "external-values.yaml": "external services, credentials from an existingSecret",
    "autoscaling-values.yaml": "autoscaling with KEDA",
    "gitops-values.yaml": "no Helm hooks (GitOps tools that do not run them)",
    "production-values.yaml": "production-like",
}
NO_SCHEMA_HINT = (
    '\n("Couldn\'t find schema": an API version this Kubernetes release does not serve, or a '
    "custom resource whose CRD schema is missing from tests/chart/schemas/crds/)"
)


def _names(paths: list[Path]) -> list[str]:
    return [path.name for path in paths]


def test_ci_values_files_cover_the_scenarios(chart_dir: Path) -> None:
    present = set(_names(good_values_files(chart_dir)))
    missing = {name: why for name, why in SCENARIOS.items() if name not in present}
    assert not missing, f"{chart_dir / 'ci'} lacks scenarios: {missing}"
    assert bad_values_files(chart_dir), "no ci/bad-*.yaml: the chart's refusals are untested"


@pytest.mark.parametrize("values_file", GOOD, ids=_names(GOOD))
def test_helm_lint_strict(chart: Helm, values_file: Path) -> None:
    try:
        chart.lint(values_file)
    except HelmError as error:
        pytest.fail(f"helm lint --strict -f ci/{values_file.name}\n{error}")


@pytest.mark.parametrize("bad_file", BAD, ids=_names(BAD))
def test_bad_values_fail_with_the_expected_message(render_text: RenderText, bad_file: Path) -> None:
    try:
        expected = expected_message(bad_file)
    except ValueError as error:
        pytest.fail(str(error))
    with pytest.raises(HelmError) as failure:  # "DID NOT RAISE": the bad file rendered
        render_text(bad_file, api_versions=OPTIONAL_API_VERSIONS)
    assert expected in failure.value.stderr, (
        f"ci/{bad_file.name} failed, but helm's stderr lacks {expected!r}:\n{failure.value.stderr}"
    )


@pytest.fixture(scope="session")
def bundled_kube_versions(tools_python: Path) -> list[str]:
    versions: list[str] = in_tools_venv(tools_python, "kube-versions", "")
    return versions


@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
@pytest.mark.parametrize("values_file", GOOD, ids=_names(GOOD))
def test_manifests_validate(
    render: Render,
    values_file: Path,
    kube_version: str,
    kubernetes_validate: Path,
    bundled_kube_versions: list[str],
    tools_python: Path,
) -> None:
    # An unbundled version only prints an error: pin versions it has schemas for.
    assert kube_version in bundled_kube_versions, (
        f"kubernetes-validate has no schemas for {kube_version}: {bundled_kube_versions}"
    )
    documents = render(values_file, kube_version=kube_version, api_versions=OPTIONAL_API_VERSIONS)
    assert documents, f"ci/{values_file.name} rendered nothing"
    custom = [document for document in documents if crd_schema(document)]
    builtin = [document for document in documents if not crd_schema(document)]
    problems = validate_custom_resources(tools_python, custom)
    output = run_kubernetes_validate(kubernetes_validate, builtin, kube_version)
    if output:
        hint = NO_SCHEMA_HINT if "find schema" in output else ""
        problems.append(f"kubernetes-validate -k {kube_version} --strict:\n{output}{hint}")
    if problems:
        pytest.fail(f"ci/{values_file.name} on Kubernetes {kube_version}:\n" + "\n".join(problems))


@pytest.fixture(scope="session")
def checkov_findings(
    chart: Helm, checkov: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[dict[str, CheckovFindings], dict[str, str]]:
    """Every good file rendered once (default Kubernetes version, optional APIs on) and one
    checkov run over them all; render failures by file name beside the findings."""
    folder = tmp_path_factory.mktemp("checkov")
    render_errors: dict[str, str] = {}
    for values_file in GOOD:
        try:
            text = chart.render_text(values_file, api_versions=OPTIONAL_API_VERSIONS)
        except HelmError as error:
            render_errors[values_file.name] = str(error)
        else:
            (folder / values_file.name).write_text(text)
    findings = run_checkov(checkov, folder) if len(render_errors) < len(GOOD) else {}
    return findings, render_errors


@pytest.mark.parametrize("values_file", GOOD, ids=_names(GOOD))
def test_checkov_passes(
    values_file: Path, checkov_findings: tuple[dict[str, CheckovFindings], dict[str, str]]
) -> None:
    findings, render_errors = checkov_findings
    if values_file.name in render_errors:
        pytest.fail(render_errors[values_file.name])
    found = findings.get(values_file.name, CheckovFindings())
    unexplained = []
    for check in found.skipped:
        line = checkov_line(check)
        CHECKOV_SKIPS.setdefault(line, []).append(values_file.name)
        print(f"ci/{values_file.name}: {line}")  # noqa: T201
        reason = (check.get("check_result") or {}).get("suppress_comment") or ""
        if not reason.strip() or reason == "No comment provided":
            unexplained.append(line)
    assert not found.parsing_errors, f"checkov could not parse: {found.parsing_errors}"
    assert found.passed, f"checkov checked nothing in the manifests of ci/{values_file.name}"
    if found.failed:
        pytest.fail(
            f"checkov, ci/{values_file.name}:\n"
            + "\n".join(
                f"{checkov_line(check)} {check.get('guideline') or ''}".rstrip()
                for check in found.failed
            )
        )
    if unexplained:
        pytest.fail("checkov skips need a reason (CKV_K8S_NN=reason):\n" + "\n".join(unexplained))
