"""``make fuzz``: schemathesis against a running platform, every check, authenticated as admin.

    python -m tests.contract.fuzz --host http://127.0.0.1:8000 [--examples 100] [--seed 1]

Logs in with FUZZ_LOGIN and FUZZ_PASSWORD (``seed-demo``'s admin by default), runs with
tests/contract/schemathesis.toml (which loads the hooks of tests/contract/hooks.py), and leaves
out the routes that end the session it runs with.
The exit code is schemathesis's: 0 when no check failed.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
CONFIG = Path(__file__).with_name("schemathesis.toml")
# Log-out and revoking every session would end the fuzzer's own session midway.
EXCLUDED = r"/auth/(logout|logout-all)$|/sessions"


def access_token(host: str, login: str, password: str) -> str:
    response = httpx.post(
        f"{host}/api/v1/auth/login", json={"login": login, "password": password}, timeout=30
    )
    response.raise_for_status()
    return str(response.json()["access_token"])


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.contract.fuzz", description=__doc__)
    parser.add_argument("--host", default="http://127.0.0.1:8000")
    parser.add_argument("--examples", type=int, default=100, help="per operation")
    parser.add_argument("--seed", type=int, default=None, help="fixed for a repeatable run")
    args = parser.parse_args()
    token = access_token(
        args.host,
        os.environ.get("FUZZ_LOGIN", "admin"),
        os.environ.get("FUZZ_PASSWORD", "demo-password-2024"),
    )
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "--config-file", str(CONFIG), "run", f"{args.host}/openapi.json",
        "--checks", "all", "--max-examples", str(args.examples),
        "--exclude-path-regex", EXCLUDED, "-H", f"Authorization: Bearer {token}",
    ]  # fmt: skip
    if args.seed is not None:
        command += ["--seed", str(args.seed)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # for the config's hooks module
    return subprocess.run(command, env=env, check=False).returncode  # noqa: S603 - our argv


if __name__ == "__main__":
    raise SystemExit(main())
