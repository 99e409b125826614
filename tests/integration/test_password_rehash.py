"""Stored hashes follow the configured Argon2 parameters: a log-in upgrades an outdated hash."""

from __future__ import annotations

from app.bootstrap.settings import Settings
from tests.conftest import build_settings
from tests.integration.conftest import ClientFactory
from tests.integration.helpers import log_in, sign_up
from tests.support.sql import sql_value


async def _stored_hash(database_url: str, username: str) -> str:
    return str(
        await sql_value(
            database_url, "SELECT password_hash FROM users WHERE username = $1", username
        )
    )


async def test_log_in_rehashes_a_password_stored_with_outdated_parameters(
    make_client: ClientFactory, settings: Settings, database_url: str, redis_url: str
) -> None:
    old = await make_client(settings)
    await sign_up(old, "rehash")
    before = await _stored_hash(database_url, "rehash")
    stronger = await make_client(build_settings(database_url, redis_url, argon2_memory_kib=2048))
    await log_in(stronger, "rehash")
    after = await _stored_hash(database_url, "rehash")
    assert before.startswith("$argon2id$")
    assert "m=1024" in before
    assert "m=2048" in after
    await log_in(stronger, "rehash")  # the new hash verifies
    assert await _stored_hash(database_url, "rehash") == after
