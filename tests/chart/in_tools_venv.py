"""Run by the chart tools venv's python (jsonschema and kubernetes-validate live there, not in
the app's venv):

    python in_tools_venv.py kube-versions   # -> the versions kubernetes-validate bundles
    python in_tools_venv.py crds            # stdin [{"schema": PATH, "document": {...}}, ...]
                                            # -> [[error, ...] per item]
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from typing import Any


def kube_versions() -> Any:
    utils = importlib.import_module("kubernetes_validate.utils")
    return sorted(set(utils.all_versions()), key=lambda v: tuple(int(p) for p in v.split(".")))


def crds() -> Any:
    """Each document against its CRD's JSON schema (OpenAPI v3 from the CRD; draft 7 is the
    nearest JSON Schema dialect), every error with its path."""
    validators = importlib.import_module("jsonschema.validators")
    draft7 = importlib.import_module("jsonschema").Draft7Validator
    results = []
    for item in json.load(sys.stdin):
        schema = json.loads(Path(item["schema"]).read_text())
        validator = validators.validator_for(schema, default=draft7)(schema)
        errors = sorted(
            validator.iter_errors(item["document"]), key=lambda e: [str(p) for p in e.path]
        )
        results.append(
            [
                f"{'.'.join(str(p) for p in error.path) or '(root)'}: {error.message}"
                for error in errors
            ]
        )
    return results


def main() -> None:
    commands = {"kube-versions": kube_versions, "crds": crds}
    json.dump(commands[sys.argv[1]](), sys.stdout)


if __name__ == "__main__":
    main()
