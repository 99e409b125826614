"""``kubectl kustomize --enable-helm`` over the overlays in ``k8s/``, whatever helm there is.

kustomize up to v5.7 (the one inside kubectl up to 1.35) first runs ``helm version -c --short``
and refuses anything but a v3 answer; helm 4 has no ``-c`` and fails. kustomize v5.8.1 knows
helm 4. For an older kustomize and a helm 4, ``helm_for_kustomize`` writes a wrapper that answers
that one question as a v3 would and hands every other command (``helm template ...``) to the real
helm unchanged: the chart renders with the same helm as in the other chart tests.
"""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path
from typing import Any, Final

from tests.chart import tools
from tests.chart.chart import parse_yaml

# The wrapper's answer to `helm version -c --short`: a version kustomize accepts (major 3).
V3_ANSWER: Final = "v3.99.0+helm4-wrapper"
WRAPPER: Final = """#!/bin/sh
# kustomize <= v5.7 asks `helm version -c --short` and wants helm 3; helm 4 has no -c.
if [ "$1" = version ] && [ "$2" = -c ]; then echo {answer}; exit 0; fi
exec {helm} "$@"
"""


def helm_major(helm: Path) -> int:
    match = re.match(r"v?(\d+)\.", tools.helm_version(helm))
    return int(match.group(1)) if match else 0


def helm_for_kustomize(helm: Path, folder: Path) -> Path:
    """``helm`` itself when it is helm 3, else a wrapper in ``folder`` (see the module's doc)."""
    if helm_major(helm) == 3:
        return helm
    folder.mkdir(parents=True, exist_ok=True)
    wrapper = folder / "helm"
    wrapper.write_text(WRAPPER.format(answer=V3_ANSWER, helm=shlex.quote(str(helm.absolute()))))
    wrapper.chmod(0o755)
    return wrapper


class KustomizeError(RuntimeError):
    pass


def kustomize_text(kubectl: Path, helm: Path, target: Path) -> str:
    """The YAML stream ``kubectl kustomize --enable-helm --helm-command HELM TARGET`` prints."""
    command = [str(kubectl), "kustomize", "--enable-helm", "--helm-command", str(helm), str(target)]
    result = subprocess.run(  # noqa: S603 - our tools with our arguments
        command, capture_output=True, text=True, timeout=300, check=False
    )
    if result.returncode != 0:
        raise KustomizeError(f"{shlex.join(command)} failed:\n{result.stderr[-5000:]}")
    return result.stdout


def kustomize_build(kubectl: Path, helm: Path, target: Path) -> list[dict[str, Any]]:
    """The documents of ``kustomize_text``, parsed."""
    documents = parse_yaml(kustomize_text(kubectl, helm, target))
    for document in documents:
        if not isinstance(document, dict):
            raise KustomizeError(f"{target}: a document that is not a mapping: {document!r}")
    return documents
