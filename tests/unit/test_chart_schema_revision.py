"""The chart names the schema its code needs (Chart.yaml's fastapi-platform.dev/schema-revision,
carried by every app pod and the migration Job): it must be this code's Alembic head, or a
rollback would be judged against the wrong revision (chapter 16)."""

from __future__ import annotations

from pathlib import Path

import yaml
from alembic.script import ScriptDirectory

from app.bootstrap.migrations import alembic_config

CHART = Path(__file__).resolve().parents[2] / "charts" / "fastapi-platform" / "Chart.yaml"


def test_the_charts_schema_revision_is_the_migrations_head() -> None:
    annotations = yaml.safe_load(CHART.read_text())["annotations"]
    (head,) = ScriptDirectory.from_config(alembic_config()).get_heads()
    assert annotations["fastapi-platform.dev/schema-revision"] == head, (
        f"set fastapi-platform.dev/schema-revision in {CHART.name} to {head!r}, the new head"
    )
