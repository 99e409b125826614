"""Development and test tooling: demo data (``seed-demo``), the local run (``dev``), embedded
PostgreSQL and Redis, and the local SMTP sink (``smtp-sink``).

Never imported by the API, worker, beat or migration code paths (an import-linter contract in
pyproject.toml holds this); the CLI loads these modules lazily, by name, only for its dev
commands. They stay in the package, and so in the images, because the chart's load test runs
``seed-demo`` from the migrate image.
"""
