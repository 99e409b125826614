"""Security review, findings 3 and 4, replayed against the real app.

3. Password change had no limit: 314 guesses in 10 s with one access token, each an Argon2 hash
   that slowed everybody's log-ins. Now attempts are limited per user before hashing, and one
   wrong current password too many ends the session.
4. Ten wrong log-ins from anywhere locked the owner out, and ``admin`` and ``admin@example.com``
   were counted apart. Now the login is resolved to the account first; attempts are limited per
   account and address, and the account as a whole backs off, except for networks its owner
   logged in from.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import httpx
import pytest

from app.bootstrap.settings import HttpSettings, RateLimitSettings, Settings
from tests.conftest import build_settings
from tests.integration.catalog_support import metric
from tests.integration.conftest import ClientFactory
from tests.integration.helpers import PASSWORD, bearer, log_in, sign_up
from tests.integration.support import assert_problem, assert_unauthorized, me

pytestmark = pytest.mark.owasp("API2", "API4")

WRONG = "not the password at all"


def _behind_a_proxy(database_url: str, redis_url: str, **auth: Any) -> Settings:
    limits = auth.pop("rate_limits", {})
    settings = build_settings(database_url, redis_url, rate_limits=limits, **auth)
    http = HttpSettings(trusted_proxies="*", metrics_on_api_port=True)
    return dataclasses.replace(settings, http=http)


async def _log_in_from(
    client: httpx.AsyncClient, address: str, login: str = "alice", password: str = WRONG
) -> httpx.Response:
    return await client.post(
        "/api/v1/auth/login",
        json={"login": login, "password": password},
        headers={"X-Forwarded-For": address},
    )


# --- log-in (finding 4) ------------------------------------------------------------------------


async def test_ten_wrong_log_ins_from_one_address_do_not_lock_the_owner_out(
    make_client: ClientFactory, client: httpx.AsyncClient, database_url: str, redis_url: str
) -> None:
    await sign_up(client, "alice")
    default = RateLimitSettings.model_fields["login_per_account_and_address"].default
    assert default == "10/minute"
    limits = {"login_per_account_and_address": default}
    app = await make_client(_behind_a_proxy(database_url, redis_url, rate_limits=limits))
    for _ in range(10):
        assert (await _log_in_from(app, "203.0.113.9")).status_code == 401
    assert_problem(await _log_in_from(app, "203.0.113.9"), 429, "rate_limited")
    # The owner, elsewhere, never met this attacker's budget.
    owner = await _log_in_from(app, "198.51.100.20", password=PASSWORD)
    assert owner.status_code == 200, owner.text


async def test_a_username_and_its_email_share_one_budget(
    make_client: ClientFactory, client: httpx.AsyncClient, database_url: str, redis_url: str
) -> None:
    await sign_up(client, "alice")
    settings = _behind_a_proxy(
        database_url, redis_url, rate_limits={"login_per_account_and_address": "3/minute"}
    )
    app = await make_client(settings)
    for login in ("alice", "ALICE@example.com", " alice "):
        assert (await _log_in_from(app, "203.0.113.9", login=login)).status_code == 401
    assert_problem(await _log_in_from(app, "203.0.113.9", "alice@example.com"), 429, "rate_limited")


async def test_guesses_from_many_addresses_back_off_but_the_owners_network_logs_in(
    make_client: ClientFactory, client: httpx.AsyncClient, database_url: str, redis_url: str
) -> None:
    await sign_up(client, "alice")
    app = await make_client(
        _behind_a_proxy(
            database_url, redis_url, login_free_failures=4, login_backoff_max_seconds=60
        )
    )
    # The owner logs in from home once: that network is remembered.
    assert (await _log_in_from(app, "2001:db8:aa:1::5", password=PASSWORD)).status_code == 200
    # A botnet: one guess per address, each address well inside its own budget. After the free
    # failures each attempt must wait 1 s, 2 s, 4 s...: within a moment, a refusal.
    statuses = [(await _log_in_from(app, f"203.0.113.{i}")).status_code for i in range(1, 6)]
    assert statuses == [401] * 5  # four free failures, and the attempt that starts the wait
    refused = None
    for i in range(6, 18):
        response = await _log_in_from(app, f"203.0.113.{i}")
        if response.status_code == 429:
            refused = response
            break
        assert response.status_code == 401, response.text
    assert refused is not None, "the account never backed off"
    assert_problem(refused, 429, "rate_limited")
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    backing_off = await metric(app, "rate_limit_rejections_total", rule="login_backoff")
    assert backing_off >= 1
    # The owner, from another address of the same /64, is not held up by any of it.
    owner = await _log_in_from(app, "2001:db8:aa:1::77", password=PASSWORD)
    assert owner.status_code == 200, owner.text
    # Their success cleared the failures: the next newcomer starts afresh.
    assert (await _log_in_from(app, "198.51.100.1")).status_code == 401


# --- password change (finding 3) ---------------------------------------------------------------


async def _change(
    client: httpx.AsyncClient, tokens: dict[str, str], current: str
) -> httpx.Response:
    return await client.put(
        "/api/v1/users/me/password",
        json={"current_password": current, "new_password": "a brand new passphrase"},
        headers=bearer(tokens),
    )


async def _alice_signed_in(
    make_client: ClientFactory,
    client: httpx.AsyncClient,
    database_url: str,
    redis_url: str,
    **limits: str,
) -> tuple[httpx.AsyncClient, dict[str, str]]:
    await sign_up(client, "alice")
    app = await make_client(build_settings(database_url, redis_url, rate_limits=limits))
    return app, await log_in(app, "alice")


async def test_password_changes_are_limited_per_user_before_any_hashing(
    make_client: ClientFactory, client: httpx.AsyncClient, database_url: str, redis_url: str
) -> None:
    app, tokens = await _alice_signed_in(
        make_client, client, database_url, redis_url, change_password_per_user="3/hour"
    )
    for _ in range(3):
        assert_problem(await _change(app, tokens, WRONG), 403, "wrong_password")
    refused = await _change(app, tokens, PASSWORD)  # even the right one: no more hashing
    assert_problem(refused, 429, "rate_limited")
    assert (await log_in(app, "alice"))["access_token"]  # the password did not change


async def test_one_wrong_current_password_too_many_ends_the_session(
    make_client: ClientFactory, client: httpx.AsyncClient, database_url: str, redis_url: str
) -> None:
    app, stolen = await _alice_signed_in(
        make_client, client, database_url, redis_url, wrong_password_per_user="2/hour"
    )
    for _ in range(2):
        assert_problem(await _change(app, stolen, WRONG), 403, "wrong_password")
    ended = await _change(app, stolen, WRONG)
    assert_unauthorized(ended, "session_revoked")
    assert_unauthorized(await me(app, stolen), "session_revoked")
    refreshed = await app.post(
        "/api/v1/auth/refresh", json={"refresh_token": stolen["refresh_token"]}
    )
    assert_unauthorized(refreshed, "session_revoked")
