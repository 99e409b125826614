# One Dockerfile, four images: `api`, `worker`, `beat` and `migrate` (docs/16-deployment.md); and
# `loadtest`, Locust with the journeys of loadtests/ (docs/15-performance.md).
#
#   docker build --target api -t fastapi-platform-api .
#
# PYTHON_IMAGE: the official slim Python image by default; the image tests pass a locally built
# base when no registry is reachable. The optional build secret `ca` (a PEM bundle) lets the
# build reach the package index through a TLS-inspecting proxy:
#
#   docker build --secret id=ca,src=/etc/ssl/certs/ca-certificates.crt --target api .
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- builder: the virtualenv with the pinned, hash-checked runtime requirements ------------------
FROM ${PYTHON_IMAGE} AS builder

ARG UV_VERSION=0.13.9
ENV PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never

# uv in a throwaway venv of its own: it never reaches the runtime image.
RUN --mount=type=secret,id=ca \
    if [ -f /run/secrets/ca ]; then export PIP_CERT=/run/secrets/ca; fi \
    && python3 -m venv /opt/uv \
    && /opt/uv/bin/pip install "uv==${UV_VERSION}"

# The app's virtualenv: no pip in it, only what requirements/main.txt pins (with hashes).
COPY requirements/main.txt /tmp/requirements.txt
RUN --mount=type=secret,id=ca \
    --mount=type=cache,target=/root/.cache/uv \
    if [ -f /run/secrets/ca ]; then export SSL_CERT_FILE=/run/secrets/ca; fi \
    && python3 -m venv --without-pip /opt/venv \
    && /opt/uv/bin/uv pip install --python /opt/venv/bin/python --require-hashes --no-deps \
        -r /tmp/requirements.txt

# Wheels ship extension modules with their symbol tables (uvloop alone: 14 MB); the runtime
# needs none of them. DL3008 (pin apt versions) is ignored: binutils comes from the base image's
# own Debian release, and a pinned version would break at its next point release. It lives in
# the builder stage only.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends binutils \
    && find /opt/venv -name '*.so*' -type f -exec strip --strip-unneeded {} + \
    && rm -rf /var/lib/apt/lists/*

COPY app /srv/app
RUN /opt/venv/bin/python -m compileall -q /srv/app

# --- user: the base without its build tools, with the fixed non-root user ----------------------
FROM ${PYTHON_IMAGE} AS user
# The base's own pip, setuptools and wheel are build tools the app never runs (the official image
# has them, a Debian python3 does not). Then the uid/gid the chart's securityContext names
# (runAsUser/runAsGroup/fsGroup: 10001).
RUN (python3 -m pip uninstall --yes --quiet pip setuptools wheel 2>/dev/null || true) \
    && groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin app

# --- runtime: no compiler, no uv, no pip in the venv; the non-root user ------------------------
FROM user AS runtime

ARG VERSION=0.1.0
ARG REVISION=unknown
ARG SOURCE=""
LABEL org.opencontainers.image.title="fastapi-platform" \
      org.opencontainers.image.description="FastAPI platform: API, Celery worker, beat, migrations" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/srv \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONFAULTHANDLER=1 \
    APP_VERSION=${VERSION} \
    APP_REVISION=${REVISION}

# Owned by root and read-only to the app; the processes write only under /tmp (probes, beat's
# schedule, Prometheus' multiprocess files): the chart mounts an emptyDir there.
COPY --from=builder /opt/venv /opt/venv
COPY --from=builder /srv/app /srv/app
WORKDIR /srv
USER 10001:10001

# Every process is `python -m app <command>`: exec form, no shell, and the command itself is
# PID 1 (gunicorn and Celery handle SIGTERM and reap their own children).
ENTRYPOINT ["/opt/venv/bin/python", "-m", "app"]

# --- loadtest: Locust and the journeys of loadtests/, to load-test from inside a cluster ----------
# Not an app image: no app code, a venv of its own. Built only with `--target loadtest`
# (docs/15-performance.md); `api` stays the last stage, the one a plain build makes.
FROM builder AS loadtest-builder
COPY requirements/loadtest.txt /tmp/loadtest.txt
RUN --mount=type=secret,id=ca \
    --mount=type=cache,target=/root/.cache/uv \
    if [ -f /run/secrets/ca ]; then export SSL_CERT_FILE=/run/secrets/ca; fi \
    && python3 -m venv --without-pip /opt/loadtest \
    && /opt/uv/bin/uv pip install --python /opt/loadtest/bin/python --require-hashes --no-deps \
        -r /tmp/loadtest.txt \
    && find /opt/loadtest -name '*.so*' -type f -exec strip --strip-unneeded {} +

FROM user AS loadtest
ENV PATH=/opt/loadtest/bin:$PATH \
    PYTHONPATH=/srv \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
COPY --from=loadtest-builder /opt/loadtest /opt/loadtest
COPY loadtests /srv/loadtests
WORKDIR /srv
USER 10001:10001
# Master (--master), worker (--worker --master-host ...) or a single headless run: the arguments
# are Locust's own; the SLO gate (loadtests/slo.toml) sets the exit code.
ENTRYPOINT ["/opt/loadtest/bin/locust", "-f", "/srv/loadtests/locustfile.py"]
CMD ["--help"]

# --- the four images -----------------------------------------------------------------------------
FROM runtime AS migrate
# `migrate` waits for the database (bounded), upgrades to head, exits 0; non-zero with a message.
CMD ["migrate"]

FROM runtime AS beat
CMD ["beat"]

FROM runtime AS worker
# Prometheus metrics of the worker (APP_CELERY_METRICS_PORT).
EXPOSE 9101
CMD ["worker"]

FROM runtime AS api
# gunicorn with uvicorn workers; bind, workers and timeouts from APP_SERVER_*.
EXPOSE 8000
CMD ["api"]
