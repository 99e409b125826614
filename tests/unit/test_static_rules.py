"""The static checks of ``make lint`` are proven here: every rule of ``.semgrep/rules.yml``
fires on bad snippets and stays quiet on good ones, bandit (with the ``[tool.bandit]`` settings of
``pyproject.toml``) reports what it should and honours a ``# nosec BXXX``, and every suppression
in app/ and loadtests/ names its rule and says why.

A snippet line that must be reported ends with ``# expect: <rule id>``; any other finding, or a
missing one, fails. semgrep runs once over all the snippets (it takes a few seconds to start).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / ".semgrep" / "rules.yml"
# make install puts semgrep into its own venv (requirements/lint-tools.txt).
SEMGREP = ROOT / ".local" / "lint-tools" / "venv" / "bin" / "semgrep"
BANDIT = Path(sys.executable).with_name("bandit")

JWT = """
import jwt
from jwt import decode as jwt_decode


def bad(token: str, key: str) -> None:
    jwt.decode(token, key, algorithms=["HS256"], options={"verify_signature": False})  # expect: jwt-decode-unverified
    opts = {"verify_signature": False, "verify_exp": True}
    jwt.decode(token, key, algorithms=["HS256"], options=opts)  # expect: jwt-decode-unverified
    jwt.decode(token, key, verify=False)  # expect: jwt-decode-unverified
    jwt.decode(token, key)  # expect: jwt-decode-algorithms
    jwt_decode(token, key, audience="api")  # expect: jwt-decode-algorithms
    jwt.decode(token, key, algorithms=["none"])  # expect: jwt-decode-algorithms
    jwt.decode_complete(token, key, algorithms=["HS256", "None"])  # expect: jwt-decode-algorithms


def good(token: str, key: str) -> None:
    jwt.decode(
        token,
        key,
        algorithms=["HS256"],
        audience="api",
        options={"require": ["sub", "exp"], "verify_exp": False},
    )
    jwt.decode_complete(token, key, algorithms=["RS256"])
    jwt.get_unverified_header(token)
    jwt.encode({"sub": "1"}, key, algorithm="HS256")
"""  # noqa: E501 - each snippet line keeps its expectation at its end

SQL = """
from sqlalchemy import insert, select, text

SELECT_VIEW = "SELECT id, name FROM products"


async def bad(db, conn, name: str, column: str, limit: int) -> None:
    await db.execute(text(f"SELECT * FROM users WHERE name = '{name}'"))  # expect: sql-text-formatted
    await conn.fetch(f"{SELECT_VIEW} WHERE name = {name}")  # expect: sql-text-formatted
    await conn.fetchrow("SELECT * FROM users WHERE name = '%s'" % name)  # expect: sql-text-formatted
    await conn.fetchval("SELECT count(*) FROM {}".format(column))  # expect: sql-text-formatted
    await db.execute(text("SELECT * FROM users ORDER BY " + column))  # expect: sql-text-formatted
    await db.exec_driver_sql("DELETE FROM users WHERE id = " + str(limit))  # expect: sql-text-formatted
    sql = f"SELECT * FROM products LIMIT {limit}"
    await conn.fetch(sql)  # expect: sql-text-formatted
    query = "SELECT * FROM products"
    query += f" WHERE name = '{name}'"
    await conn.execute(query)  # expect: sql-text-formatted


async def good(db, conn, name: str, limit: int, table, page_sql) -> None:
    await db.execute(text("SELECT * FROM users WHERE name = :name"), {"name": name})
    await conn.fetch(f"{SELECT_VIEW} WHERE name = $1", name)
    await conn.fetch(SELECT_VIEW + " WHERE name = $1", name)
    await conn.fetchval("SELECT count(*) FROM products")
    await db.execute(insert(table).values(name=name, position=limit + 1))
    await db.execute(select(table).where(table.c.name == name).limit(limit + 1))
    sql = page_sql(SELECT_VIEW, [f"name = {limit}"], limit=limit)  # a helper's result
    await conn.fetch(sql, name)
    await db.execute(text("SELECT %s" % SELECT_VIEW))
"""  # noqa: E501 - each snippet line keeps its expectation at its end

TLS = """
import ssl

import aiohttp
import asyncpg
import httpx
import redis
import requests


async def bad(url: str, dsn: str) -> None:
    httpx.AsyncClient(verify=False)  # expect: tls-verification-disabled
    requests.get(url, timeout=5, verify=False)  # expect: tls-verification-disabled
    aiohttp.TCPConnector(ssl=False)  # expect: tls-verification-disabled
    aiohttp.TCPConnector(verify_ssl=False)  # expect: tls-verification-disabled
    await asyncpg.connect(dsn, ssl=False)  # expect: tls-verification-disabled
    redis.Redis(host="cache", ssl=True, ssl_cert_reqs=None)  # expect: tls-verification-disabled
    redis.Redis(host="cache", ssl=True, ssl_cert_reqs="none")  # expect: tls-verification-disabled
    redis.Redis(host="cache", ssl=True, ssl_check_hostname=False)  # expect: tls-verification-disabled
    redis.Redis.from_url("rediss://cache:6380/0?ssl_cert_reqs=none")  # expect: tls-verification-disabled
    session = requests.Session()
    session.verify = False  # expect: tls-verification-disabled
    context = ssl.create_default_context()
    context.check_hostname = False  # expect: tls-verification-disabled
    context.verify_mode = ssl.CERT_NONE  # expect: tls-verification-disabled
    ssl._create_unverified_context()  # expect: tls-verification-disabled


async def good(url: str, dsn: str) -> None:
    httpx.AsyncClient(verify="/etc/ssl/private-ca.pem")
    requests.get(url, timeout=5)
    aiohttp.TCPConnector(ssl=ssl.create_default_context(cafile="/etc/ssl/private-ca.pem"))
    await asyncpg.connect(dsn, ssl="verify-full")
    redis.Redis(host="cache", ssl=True, ssl_cert_reqs="required")
    redis.Redis.from_url("rediss://cache:6380/0?ssl_cert_reqs=required")
    context = ssl.create_default_context()
    context.check_hostname = True
"""  # noqa: E501 - each snippet line keeps its expectation at its end

SECRETS = """
import os

from pydantic import BaseModel, ConfigDict, Field

API_KEY = "sk-live-4f9a8b7c6d5e"  # expect: hardcoded-secret
DB_PASSWORD: str = "pa55word!"  # expect: hardcoded-secret


class Settings(BaseModel):
    jwt_secret: str = "s3cr3t-value-123"  # expect: hardcoded-secret


def connect(password: str = "hunter22") -> None:  # expect: hardcoded-secret
    pass


def call(client, holder) -> None:
    client.login(token="ghp_abcdef123456")  # expect: hardcoded-secret
    config = {"db_password": "pa55word!"}  # expect: hardcoded-secret
    holder.secret = "abcd1234"  # expect: hardcoded-secret
    API_TOKEN = "abcd-1234-efgh"  # nosemgrep: hardcoded-secret - proves a suppression works
    ACCESS_TOKEN = "abcd-1234-efgh"  # nosemgrep: sql-text-formatted  # expect: hardcoded-secret


# Placeholders, demo and test constants, names that only contain a secret's word, references.
PLACEHOLDER_SECRET = "development-only-secret-change-me-0123456789"
DEMO_PASSWORD = "demo-password-2024"
TEST_TOKEN = "token-for-the-tests"
token_type = "bearer"
key_prefix = "ratelimit"
CHANGE_PASSWORD_PER_USER = "change_password_per_user"
password = os.environ["APP_PASSWORD"]
secret = ""
api_key = "<your-api-key>"
signing_key = "${SIGNING_KEY}"
jwt_secret = "changeme"


class SignUp(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"password": "correct horse battery"}]})
    password: str = Field(examples=[{"password": "correct horse battery"}])
"""  # noqa: E501 - each snippet line keeps its expectation at its end

SNIPPETS = {
    "jwt_rules.py": JWT,
    "sql_rules.py": SQL,
    "tls_rules.py": TLS,
    "secret_rules.py": SECRETS,
}


def _rule_ids() -> set[str]:
    return {rule["id"] for rule in yaml.safe_load(RULES.read_text())["rules"]}


def _expected(snippets: dict[str, str]) -> set[tuple[str, int, str]]:
    return {
        (name, number, match.group(1))
        for name, source in snippets.items()
        for number, line in enumerate(source.splitlines(), start=1)
        if (match := re.search(r"# expect: ([\w-]+)", line))
    }


@pytest.fixture(scope="module")
def semgrep_findings(tmp_path_factory: pytest.TempPathFactory) -> set[tuple[str, int, str]]:
    semgrep = SEMGREP if SEMGREP.exists() else shutil.which("semgrep")
    if semgrep is None:
        pytest.skip("semgrep is not installed: `make install` puts it in .local/lint-tools/venv")
    folder = tmp_path_factory.mktemp("snippets")
    for name, source in SNIPPETS.items():
        (folder / name).write_text(source)
    command = [str(semgrep), "scan", "--metrics", "off", "--disable-version-check", "--json"]
    done = subprocess.run(  # noqa: S603 - our own tool and files
        [*command, "--config", str(RULES), str(folder)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    report: dict[str, Any] = json.loads(done.stdout)
    assert done.returncode == 0, done.stderr
    assert report["errors"] == [], report["errors"]
    return {
        (Path(result["path"]).name, result["start"]["line"], result["check_id"].rsplit(".", 1)[-1])
        for result in report["results"]
    }


def test_every_rule_has_a_bad_snippet() -> None:
    assert {rule for _, _, rule in _expected(SNIPPETS)} == _rule_ids()


@pytest.mark.parametrize("snippet", sorted(SNIPPETS))
def test_semgrep_rules_fire_on_bad_and_stay_quiet_on_good(
    snippet: str, semgrep_findings: set[tuple[str, int, str]]
) -> None:
    found = {finding for finding in semgrep_findings if finding[0] == snippet}
    expected = {finding for finding in _expected(SNIPPETS) if finding[0] == snippet}
    assert sorted(found - expected) == [], "reported where no finding is expected"
    assert sorted(expected - found) == [], "not reported"


BANDIT_SNIPPET = """
import hashlib
import subprocess

import yaml

PASSWORD = "hunter2hunter2"  # expect: B105


def bad(command: str, data: bytes, text: str) -> None:
    subprocess.run(command, shell=True, check=True)  # expect: B602
    hashlib.md5(data)  # expect: B324
    yaml.load(text)  # expect: B506


def good(data: bytes) -> None:
    assert data  # B101 is skipped in [tool.bandit]: ruff's S101 asks each assert for a reason
    subprocess.run(["/usr/bin/git", "status"], check=True)  # nosec B603  # a fixed argv
    hashlib.sha256(data)
"""


def test_bandit_with_the_project_settings(tmp_path: Path) -> None:
    if not BANDIT.exists():
        pytest.skip("bandit is not installed: `make install` puts it in .venv (the dev extra)")
    (tmp_path / "bandit_snippet.py").write_text(BANDIT_SNIPPET)
    done = subprocess.run(  # noqa: S603 - our own tool and files
        [str(BANDIT), "-c", str(ROOT / "pyproject.toml"), "-f", "json", "-q", "-r", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    report = json.loads(done.stdout)
    found = {(r["line_number"], r["test_id"]) for r in report["results"]}
    expected = {
        (number, match.group(1))
        for number, line in enumerate(BANDIT_SNIPPET.splitlines(), start=1)
        if (match := re.search(r"# expect: (B\d+)", line))
    }
    assert sorted(found) == sorted(expected)
    assert done.returncode == 1  # findings fail make lint


# Accepted: `nosec B603  # why`, or after ruff's `noqa: S603 - why`; `nosemgrep: rule-id - why`.
_NOSEC = re.compile(r"#\s*nosec\b(?P<rest>.*)$")
_NOSEC_IDS = re.compile(r"^:?\s*B\d{3}(\s*,\s*B\d{3})*(?=\s*(#|$))")
_NOSEMGREP = re.compile(r"#\s*nosemgrep\b(?P<rest>.*)$")
_NOSEMGREP_IDS = re.compile(r"^:\s*(?P<ids>[\w-]+(\s*,\s*[\w-]+)*)\s+-\s+\S")


def _python_lines() -> list[tuple[str, int, str]]:
    return [
        (str(path.relative_to(ROOT)), number, line)
        for folder in ("app", "loadtests")
        for path in sorted((ROOT / folder).rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), start=1)
    ]


def test_every_suppression_names_its_rule_and_says_why() -> None:
    rule_ids = _rule_ids()
    wrong = []
    for path, number, line in _python_lines():
        if nosec := _NOSEC.search(line):
            rest = nosec.group("rest")
            ids = _NOSEC_IDS.match(rest)
            reason_after = ids is not None and re.match(r"\s*#\s*\S", rest[ids.end() :])
            reason_before = re.search(r"# noqa: [A-Z0-9, ]+ - \S", line[: nosec.start()])
            if not (ids and (reason_after or reason_before)):
                wrong.append(f"{path}:{number}: {line.strip()}")
        if nosemgrep := _NOSEMGREP.search(line):
            ids = _NOSEMGREP_IDS.match(nosemgrep.group("rest"))
            named = set(re.split(r"\s*,\s*", ids.group("ids"))) if ids else set()
            if not named or not named <= rule_ids:
                wrong.append(f"{path}:{number}: {line.strip()}")
    assert wrong == [], "a suppression without its rule id or its reason"
