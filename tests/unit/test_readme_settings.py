"""The README's configuration table lists exactly the settings the code reads."""

from __future__ import annotations

import re
from pathlib import Path

from app.bootstrap import settings as settings_module


def _variables_in_code() -> set[str]:
    names = set()
    for section in (
        settings_module.AppSettings,
        settings_module.DatabaseSettings,
        settings_module.RedisSettings,
        settings_module.AuthSettings,
        settings_module.HttpSettings,
        settings_module.ServerSettings,
        settings_module.LogSettings,
    ):
        prefix = section.model_config.get("env_prefix", "")
        names |= {f"{prefix}{field}".upper() for field in section.model_fields}
    return names


def test_readme_documents_every_setting_and_no_stale_one() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    table = set(re.findall(r"^\| `(APP_[A-Z0-9_]+)` \|", readme, flags=re.MULTILINE))
    assert table == _variables_in_code()
