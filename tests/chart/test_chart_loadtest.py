"""The chart's optional load test (templates/loadtest/), as rendered: the master and its workers
find each other and the api, a run is named after its settings, seeding and Locust share one
password, the network lets exactly that through, and production data is never seeded.
tests/chart/test_chart_runs.py runs the rendered pods."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from tests.chart.chart import HelmError

Doc = dict[str, Any]
Render = Callable[..., list[Doc]]
VALUES = "loadtest-values.yaml"
ROLE = "fastapi-platform.dev/loadtest-role"


def _jobs(docs: list[Doc]) -> dict[str, Doc]:
    """role -> the Job of the load test."""
    return {
        d["spec"]["template"]["metadata"]["labels"][ROLE]: d
        for d in docs
        if d["kind"] == "Job"
        and d["metadata"]["labels"]["app.kubernetes.io/component"] == "loadtest"
    }


def _container(job: Doc, name: str = "locust") -> Doc:
    spec = job["spec"]["template"]["spec"]
    found: list[Doc] = [
        c for c in [*spec.get("initContainers", []), *spec["containers"]] if c["name"] == name
    ]
    assert len(found) == 1, name
    return found[0]


def _flags(container: Doc) -> dict[str, str]:
    return dict(
        a.removeprefix("--").partition("=")[::2] for a in container["args"] if a.startswith("--")
    )


def _env(container: Doc) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


def _named(docs: list[Doc], kind: str, suffix: str) -> Doc:
    (found,) = [d for d in docs if d["kind"] == kind and d["metadata"]["name"].endswith(suffix)]
    return found


def test_it_is_off_by_default(render: Render) -> None:
    docs = render(["minimal-values.yaml"])
    assert not [d for d in docs if "loadtest" in d["metadata"]["name"]]
    secret = _named(docs, "Secret", "fastapi-platform")
    assert "loadtest-password" not in secret["data"]


def test_workers_reach_the_master_and_the_master_drives_the_api(render: Render) -> None:
    docs = render([VALUES])
    jobs = _jobs(docs)
    assert set(jobs) == {"master", "worker"}
    master, worker = _flags(_container(jobs["master"])), _flags(_container(jobs["worker"]))
    service = _named(docs, "Service", "-loadtest-master")
    api = _named(docs, "Service", "-api")
    # The Service selects the master's pod, on the port the master binds and the workers dial.
    labels = jobs["master"]["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    assert (
        not service["spec"]["selector"].items()
        <= jobs["worker"]["spec"]["template"]["metadata"]["labels"].items()
    )
    (port,) = service["spec"]["ports"]
    (container_port,) = _container(jobs["master"])["ports"]
    assert port["targetPort"] == container_port["name"]
    assert port["port"] == int(master["master-bind-port"]) == container_port["containerPort"]
    assert worker["master-host"] == service["metadata"]["name"]
    assert worker["master-port"] == master["master-bind-port"]
    wait = _container(jobs["worker"], "wait-for-master")["args"]
    assert wait[:2] == ["tcp", f"{service['metadata']['name']}:{port['port']}"]
    # The master expects every worker the worker Job starts.
    assert int(master["expect-workers"]) == jobs["worker"]["spec"]["parallelism"] == 3
    assert jobs["worker"]["spec"]["completions"] == 3
    host = f"http://{api['metadata']['name']}:{api['spec']['ports'][0]['port']}"
    assert master["host"] == host
    assert _container(jobs["master"], "wait-for-api")["args"][:2] == [
        "http",
        f"{host}/health/ready",
    ]
    assert "master" in master
    assert "headless" in master
    assert "worker" in worker


def test_a_shape_replaces_users_and_run_time_and_an_slo_file_is_mounted(render: Render) -> None:
    jobs = _jobs(render([VALUES]))
    master = _container(jobs["master"])
    assert not {"users", "spawn-rate", "run-time"} & set(_flags(master))
    env = _env(master)
    assert env["LOAD_SHAPE"] == "step"
    assert env["LOAD_DURATION"] == "120"
    mounts = {m["name"]: m["mountPath"] for m in master["volumeMounts"]}
    assert env["LOAD_SLO_FILE"] == f"{mounts['slo']}/slo.toml"
    plain = _jobs(render([VALUES], set_values={"loadtest.shape": "", "loadtest.slo": ""}))
    flags = _flags(_container(plain["master"]))
    assert (flags["users"], flags["spawn-rate"], flags["run-time"]) == ("50", "10", "120s")
    assert "LOAD_SLO_FILE" not in _env(_container(plain["master"]))


def test_seeding_and_locust_share_the_accounts_and_their_password(render: Render) -> None:
    docs = render([VALUES], set_values={"loadtest.accounts": "7"})
    jobs = _jobs(docs)
    seed = _container(jobs["master"], "seed")
    init = [c["name"] for c in jobs["master"]["spec"]["template"]["spec"]["initContainers"]]
    assert init == ["wait-for-schema", "seed", "wait-for-api"]
    assert seed["args"][:3] == ["seed-demo", "--shoppers", "7"]
    password = _env(seed)["APP_DEMO_PASSWORD"]["secretKeyRef"]
    for role in ("master", "worker"):
        env = _env(_container(jobs[role]))
        assert env["LOAD_ACCOUNTS"] == "7"
        assert env["LOAD_PASSWORD"]["secretKeyRef"] == password
    secret = _named(docs, "Secret", "fastapi-platform")
    assert password == {"name": secret["metadata"]["name"], "key": "loadtest-password"}
    assert len(secret["data"]["loadtest-password"]) >= 32
    # Accounts of your own: no seeding, the password from your Secret.
    own = _jobs(
        render(
            [VALUES],
            set_values={
                "loadtest.seed.enabled": "false",
                "loadtest.existingSecret": "shoppers",
                "loadtest.existingSecretPasswordKey": "pw",
            },
        )
    )
    names = [c["name"] for c in own["master"]["spec"]["template"]["spec"]["initContainers"]]
    assert names == ["wait-for-api"]
    assert _env(_container(own["worker"]))["LOAD_PASSWORD"]["secretKeyRef"] == {
        "name": "shoppers",
        "key": "pw",
    }


def test_a_run_is_named_after_its_settings(render: Render) -> None:
    def names(**values: str) -> set[str]:
        return {d["metadata"]["name"] for d in _jobs(render([VALUES], set_values=values)).values()}

    first = names()
    assert names() == first, "an unchanged upgrade must not start another run"
    assert names(**{"loadtest.users": "80"}).isdisjoint(first)
    assert names(**{"loadtest.runId": "again"}).isdisjoint(first)
    # Master and workers of one run carry the same suffix.
    assert len({re.sub(r".*-", "", name) for name in first}) == 1


def test_production_data_is_never_seeded(render: Render) -> None:
    production = {
        "environment": "production",
        "postgresql.enabled": "false",
        "redis.enabled": "false",
        "externalDatabase.url": "postgresql://app:pw@db:5432/app",
        "externalRedis.url": "redis://redis:6379/0",
    }
    with pytest.raises(HelmError, match="into a production database is refused"):
        render([VALUES], set_values=production)
    # Without seeding (accounts of your own) a production release may be load-tested.
    assert _jobs(render([VALUES], set_values={**production, "loadtest.seed.enabled": "false"}))


def _policy(docs: list[Doc], suffix: str) -> Doc:
    spec: Doc = _named(docs, "NetworkPolicy", suffix)["spec"]
    return spec


def _selects(rule_peers: list[Doc], labels: dict[str, str]) -> bool:
    return any(
        p.get("podSelector", {}).get("matchLabels", {}).items() <= labels.items()
        and "namespaceSelector" not in p
        and p.get("podSelector") is not None
        and p["podSelector"].get("matchLabels")
        for p in rule_peers
    )


def test_the_network_lets_the_load_test_through_and_nothing_more(render: Render) -> None:
    docs = render([VALUES], set_values={"networkPolicy.apiFrom": []})
    jobs = _jobs(docs)
    master = jobs["master"]["spec"]["template"]["metadata"]["labels"]
    worker = jobs["worker"]["spec"]["template"]["metadata"]["labels"]
    api_pods = _named(docs, "Deployment", "-api")["spec"]["template"]["metadata"]["labels"]
    api_port = _named(docs, "Deployment", "-api")["spec"]["template"]["spec"]["containers"][0][
        "ports"
    ][0]
    # The api takes both (with apiFrom emptied, only the chart's own clients remain).
    (api_ingress,) = [
        r
        for r in _policy(docs, "-api")["ingress"]
        if {"port": "http", "protocol": "TCP"} in r["ports"]
    ]
    assert _selects(api_ingress["from"], worker)
    assert _selects(api_ingress["from"], master)
    # Workers reach the api's pods and the master's port, and DNS: nothing else.
    egress = _policy(docs, "-loadtest-worker")["egress"]
    reached = [(r.get("to"), [p["port"] for p in r["ports"]]) for r in egress]
    assert len(reached) == 3
    assert any(
        to and _selects(to, api_pods) and ports == [api_port["containerPort"]]
        for to, ports in reached
    )
    assert any(to and _selects(to, master) and ports == [5557] for to, ports in reached)
    # The master takes its workers' connections on its port only.
    (ingress,) = _policy(docs, "-loadtest-master")["ingress"]
    assert _selects(ingress["from"], worker)
    assert ingress["ports"] == [{"port": "locust", "protocol": "TCP"}]
    # The bundled PostgreSQL and Redis take the seeding master, not the workers.
    for service in ("-postgresql", "-redis"):
        (rule,) = _policy(docs, service)["ingress"]
        assert _selects(rule["from"], master), service
        assert not any(
            p["podSelector"]["matchLabels"].get(ROLE) == "worker" for p in rule["from"]
        ), service
