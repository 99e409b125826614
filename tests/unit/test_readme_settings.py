"""The README's configuration table lists exactly the settings the code reads."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from app.bootstrap import settings as settings_module


def _variables_in_code() -> set[str]:
    models = [settings_module.ServerSettings, settings_module.MigrationSettings] + [
        getattr(settings_module, str(section.type))
        for section in dataclasses.fields(settings_module.Settings)
    ]
    names: set[str] = set()
    for model in models:
        prefix = str(model.model_config.get("env_prefix", ""))
        names |= {f"{prefix}{field}".upper() for field in model.model_fields}
    return names


def test_readme_documents_every_setting_and_no_stale_one() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    table = set(re.findall(r"^\| `(APP_[A-Z0-9_]+)` \|", readme, flags=re.MULTILINE))
    assert table == _variables_in_code()
