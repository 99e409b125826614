"""Server-side sessions in Redis: one hash per session, one set per user to revoke them all.

A refresh token is ``<session id>.<secret>``; only a SHA-256 of the secret is stored. Rotation is a
compare-and-swap in a Lua script, so two concurrent refreshes with one token cannot both win.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Final
from uuid import UUID

from redis.asyncio import Redis

from app.identity.application.errors import SessionRevokedError
from app.identity.application.ports.auth import (
    AuthenticatedSession,
    OpenedSession,
    RotatedSession,
    SessionId,
)
from app.identity.domain.value_objects import UserId

_PREFIX: Final = "identity"

# KEYS[1] session hash. ARGV: presented hash, new hash, ttl seconds, user-index key prefix.
# Returns the user id on success, "" for unknown session, "reused" after revoking on replay.
_ROTATE: Final = """
local stored = redis.call('HGET', KEYS[1], 'refresh')
if not stored then return '' end
local user_id = redis.call('HGET', KEYS[1], 'user')
if stored ~= ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('SREM', ARGV[4] .. user_id, KEYS[1])
  return 'reused'
end
redis.call('HSET', KEYS[1], 'refresh', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return user_id
"""

# KEYS[1] the user's index set. ARGV[1] session key to keep ('' for none).
_REVOKE_ALL: Final = """
local revoked = 0
for _, key in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if key ~= ARGV[1] then
    revoked = revoked + redis.call('DEL', key)
    redis.call('SREM', KEYS[1], key)
  end
end
return revoked
"""


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class RedisSessionStore:
    def __init__(self, redis: Redis, *, ttl_seconds: int) -> None:
        self._redis = redis
        self._ttl = ttl_seconds
        self._rotate = redis.register_script(_ROTATE)
        self._revoke_all = redis.register_script(_REVOKE_ALL)

    @staticmethod
    def _session_key(session_id: str) -> str:
        return f"{_PREFIX}:session:{session_id}"

    @staticmethod
    def _user_key(user_id: UserId | str) -> str:
        return f"{_PREFIX}:user-sessions:{user_id}"

    async def open(self, user_id: UserId) -> OpenedSession:
        session_id = SessionId(secrets.token_urlsafe(18))
        secret = secrets.token_urlsafe(32)
        key = self._session_key(session_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping={"user": str(user_id), "refresh": _digest(secret)})
            pipe.expire(key, self._ttl)
            pipe.sadd(self._user_key(user_id), key)
            pipe.expire(self._user_key(user_id), self._ttl)
            await pipe.execute()
        return OpenedSession(session_id=session_id, refresh_token=f"{session_id}.{secret}")

    async def rotate(self, refresh_token: str) -> RotatedSession:
        session_id, _, secret = refresh_token.partition(".")
        if not session_id or not secret:
            raise SessionRevokedError("The refresh token is not valid.")
        new_secret = secrets.token_urlsafe(32)
        outcome = await self._rotate(
            keys=[self._session_key(session_id)],
            args=[_digest(secret), _digest(new_secret), self._ttl, f"{_PREFIX}:user-sessions:"],
        )
        if outcome == "reused":
            raise SessionRevokedError(
                "This refresh token was already used; the session has been revoked."
            )
        if not outcome:
            raise SessionRevokedError("The refresh token is not valid.")
        await self._redis.expire(self._user_key(outcome), self._ttl)
        return RotatedSession(
            session_id=SessionId(session_id),
            user_id=UserId(UUID(outcome)),
            refresh_token=f"{session_id}.{new_secret}",
        )

    async def is_active(self, session: AuthenticatedSession) -> bool:
        owner = await self._redis.hget(self._session_key(session.session_id), "user")
        return owner is not None and hmac.compare_digest(str(owner), str(session.user_id))

    async def revoke(self, session_id: SessionId) -> None:
        key = self._session_key(session_id)
        owner = await self._redis.hget(key, "user")
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(key)
            if owner is not None:
                pipe.srem(self._user_key(str(owner)), key)
            await pipe.execute()

    async def revoke_all(self, user_id: UserId, *, keep: SessionId | None = None) -> int:
        keep_key = self._session_key(keep) if keep is not None else ""
        return int(await self._revoke_all(keys=[self._user_key(user_id)], args=[keep_key]))
