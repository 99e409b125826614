"""``make fuzz``: schemathesis against a running platform, every check, authenticated.

    python -m tests.contract.fuzz --host http://127.0.0.1:8000 [--examples 100] [--seed 1]

Logs in with FUZZ_LOGIN and FUZZ_PASSWORD (``seed-demo``'s admin by default) and runs
schemathesis with tests/contract/schemathesis.toml (which loads the hooks of
tests/contract/hooks.py) in two passes, each with a session of its own:

1. every operation but those that can end the session it runs with, after which that session
   must still be alive (a fuzzer that lost its session mid-run sees only 401s and proves nothing);
2. changing the password alone: a wrong current password too many ends the session that sent it
   (security review, finding 3), which is why it comes last.

Log-out and revoking every session are left out: they end the session at the first try.
With --seed the run is repeatable (no examples replayed from earlier runs). The exit code is 0
when neither pass found a failure. tests/integration/test_fuzz_contract.py runs it seeded and
bounded in ``make test``, as a customer and as an admin.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
CONFIG = Path(__file__).with_name("schemathesis.toml")
ENDS_SESSION = r"/auth/(logout|logout-all)$|/sessions"
ENDS_SESSION_ON_WRONG_INPUT = r"^/api/v1/users/me/password$"
TIMEOUT = 30
# The fuzzer's own log-in attempts count against the log-ins per address: wait them out.
LOGIN_DEADLINE_SECONDS = 120


def access_token(host: str, login: str, password: str) -> str:
    deadline = time.monotonic() + LOGIN_DEADLINE_SECONDS
    while True:
        response = httpx.post(
            f"{host}/api/v1/auth/login",
            json={"login": login, "password": password},
            timeout=TIMEOUT,
        )
        wait = float(response.headers.get("Retry-After", "1"))
        if response.status_code != httpx.codes.TOO_MANY_REQUESTS:
            break
        if time.monotonic() + wait > deadline:
            break
        time.sleep(wait)  # the server said when; nothing else to wait for
    response.raise_for_status()
    return str(response.json()["access_token"])


def session_alive(host: str, token: str) -> bool:
    response = httpx.get(
        f"{host}/api/v1/users/me", headers={"Authorization": f"Bearer {token}"}, timeout=TIMEOUT
    )
    return response.status_code == httpx.codes.OK


def schemathesis(host: str, token: str, args: argparse.Namespace, *selection: str) -> int:
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "--config-file", str(CONFIG), "run", f"{host}/openapi.json",
        "--checks", "all", "--max-examples", str(args.examples), *selection,
        "-H", f"Authorization: Bearer {token}",
    ]  # fmt: skip
    if args.seed is not None:
        # Repeatable: no examples replayed from earlier runs' database.
        command += ["--seed", str(args.seed), "--generation-database", "none"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # for the config's hooks module
    return subprocess.run(command, env=env, check=False).returncode  # noqa: S603 - our argv


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.contract.fuzz", description=__doc__)
    parser.add_argument("--host", default="http://127.0.0.1:8000")
    parser.add_argument("--examples", type=int, default=100, help="per operation")
    parser.add_argument("--seed", type=int, default=None, help="fixed for a repeatable run")
    args = parser.parse_args()
    login = os.environ.get("FUZZ_LOGIN", "admin")
    password = os.environ.get("FUZZ_PASSWORD", "demo-password-2024")
    # Both sessions before any case: the fuzzer's own log-in attempts count against the log-ins
    # per address, and would make the second log-in wait.
    token, second = (access_token(args.host, login, password) for _ in range(2))
    # One regex: schemathesis keeps only the last of several --exclude-path-regex options.
    everything_else = f"{ENDS_SESSION}|{ENDS_SESSION_ON_WRONG_INPUT}"
    failed = schemathesis(args.host, token, args, "--exclude-path-regex", everything_else)
    if not session_alive(args.host, token):
        message = f"fuzz: {login}'s session ended during the run, so its cases proved little"
        print(message, file=sys.stderr)  # noqa: T201
        failed = 1
    token = second if session_alive(args.host, second) else access_token(args.host, login, password)
    # No stateful phase: no link leads to or from this operation alone.
    failed |= schemathesis(
        args.host,
        token,
        args,
        "--include-path-regex",
        ENDS_SESSION_ON_WRONG_INPUT,
        "--phases",
        "examples,coverage,fuzzing",
    )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
