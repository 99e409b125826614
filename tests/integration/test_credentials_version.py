"""Security review, finding 5: a log-in racing a password change kept a session opened with the
old password. The change revoked the sessions before it committed; a log-in that had read the
user (and checked the old password) before the commit opened its session afterwards. Now each
session carries the user's credentials version and is refused once the version has moved on.

The race is replayed, not simulated: the log-in is held inside its password check (a hasher
that waits for a signal) while the change runs to the end, then let go.
"""

from __future__ import annotations

import asyncio

import pytest
from dishka import Provider, Scope

from app.bootstrap.settings import Settings
from app.identity.domain.ports import PasswordCheck, PasswordHasher
from app.identity.domain.value_objects import PasswordHash, RawPassword
from app.identity.infrastructure.argon2_password_hasher import Argon2PasswordHasher
from tests.integration.conftest import ClientFactory
from tests.integration.helpers import PASSWORD, bearer, log_in, sign_up
from tests.integration.support import assert_unauthorized, me

pytestmark = pytest.mark.owasp("API2")

NEW_PASSWORD = "a brand new passphrase"


class HeldHasher:
    """Argon2, except that a check of the old password by the racing log-in waits for a signal."""

    def __init__(self, real: Argon2PasswordHasher) -> None:
        self._real = real
        self.hold = False
        self.checking = asyncio.Event()
        self.release = asyncio.Event()

    async def hash(self, password: RawPassword) -> PasswordHash:
        return await self._real.hash(password)

    async def verify(self, password: RawPassword, password_hash: PasswordHash) -> PasswordCheck:
        result = await self._real.verify(password, password_hash)
        if self.hold:
            self.hold = False
            self.checking.set()
            await self.release.wait()
        return result

    async def verify_dummy(self, password: RawPassword) -> None:
        await self._real.verify_dummy(password)


async def test_a_log_in_racing_a_password_change_gets_no_lasting_session(
    make_client: ClientFactory, settings: Settings
) -> None:
    auth = settings.auth
    held = HeldHasher(
        Argon2PasswordHasher(
            time_cost=auth.argon2_time_cost,
            memory_cost_kib=auth.argon2_memory_kib,
            parallelism=auth.argon2_parallelism,
            max_threads=2,
            max_waiting=8,
        )
    )
    override = Provider(scope=Scope.APP)
    override.provide(lambda: held, provides=PasswordHasher, override=True)
    client = await make_client(settings, providers=(override,))
    await sign_up(client, "alice")
    owner = await log_in(client, "alice")

    # The racing log-in reads the user and checks the old password, then is held there.
    held.hold = True
    racing = asyncio.create_task(
        client.post("/api/v1/auth/login", json={"login": "alice", "password": PASSWORD})
    )
    await asyncio.wait_for(held.checking.wait(), timeout=10)
    # Meanwhile the owner changes the password: committed, other sessions revoked.
    changed = await client.put(
        "/api/v1/users/me/password",
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        headers=bearer(owner),
    )
    assert changed.status_code == 204, changed.text
    # The log-in goes on and opens its session, with the old credentials' version.
    held.release.set()
    response = await racing
    assert response.status_code == 200, response.text  # it did check a valid password
    late = response.json()

    assert_unauthorized(await me(client, late), "session_revoked")
    refreshed = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": late["refresh_token"]}
    )
    assert_unauthorized(refreshed, "session_revoked")
    # The owner's own session goes on under the new password, and so does a new log-in.
    assert (await me(client, owner)).status_code == 200
    assert (await me(client, await log_in(client, "alice", NEW_PASSWORD))).status_code == 200
