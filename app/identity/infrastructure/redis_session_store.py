"""Server-side sessions in Redis: one hash per session, one set per user to revoke them all.

A refresh token is ``<session id>.<secret>``; only a SHA-256 of the secret is stored. Rotation is a
compare-and-swap in a Lua script, so two concurrent refreshes with one token cannot both win. The
digests of rotated-away secrets are kept, so presenting one again (a replay: the token leaked)
revokes the session, while a merely wrong secret is refused without harming the session.

Keys of one session share a hash tag (``{<session id>}``), so the script stays valid on Redis
Cluster; the per-user index is only touched outside scripts.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
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
from app.shared.infrastructure.redis import RedisErrors

_PREFIX: Final = "identity"

# KEYS: session hash, its used-digests set. ARGV: presented digest, new digest, idle ttl (s),
# max age (s), now (epoch s). Returns "<user id> <credentials version>" on success, "" when the
# token is unknown, wrong or the session is too old, "reused" after revoking it on a replay.
_ROTATE: Final = """
local stored = redis.call('HGET', KEYS[1], 'refresh')
if not stored then return '' end
if stored ~= ARGV[1] then
  if redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 1 then
    redis.call('DEL', KEYS[1], KEYS[2])
    return 'reused'
  end
  return ''
end
local remaining = tonumber(redis.call('HGET', KEYS[1], 'created')) + tonumber(ARGV[4])
  - tonumber(ARGV[5])
if remaining <= 0 then
  redis.call('DEL', KEYS[1], KEYS[2])
  return ''
end
local ttl = math.min(tonumber(ARGV[3]), remaining)
redis.call('HSET', KEYS[1], 'refresh', ARGV[2])
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('EXPIRE', KEYS[1], ttl)
redis.call('EXPIRE', KEYS[2], ttl)
return redis.call('HGET', KEYS[1], 'user') .. ' ' .. (redis.call('HGET', KEYS[1], 'cv') or '1')
"""

# KEYS: session hash. ARGV: credentials version. Never recreates a session that has ended.
_RENEW: Final = """
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], 'cv', ARGV[1]) end
"""


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class RedisSessionStore:
    def __init__(self, redis: Redis, *, idle_ttl_seconds: int, max_age_seconds: int) -> None:
        self._redis = redis
        self._ttl = min(idle_ttl_seconds, max_age_seconds)
        self._max_age = max_age_seconds
        self._rotate = redis.register_script(_ROTATE)
        self._renew = redis.register_script(_RENEW)
        self._errors = RedisErrors("sessions")

    @staticmethod
    def _session_key(session_id: str) -> str:
        return f"{_PREFIX}:session:{{{session_id}}}"

    @staticmethod
    def _used_key(session_id: str) -> str:
        return f"{_PREFIX}:session:{{{session_id}}}:used"

    @staticmethod
    def _user_key(user_id: UserId | str) -> str:
        return f"{_PREFIX}:user-sessions:{user_id}"

    async def open(self, user_id: UserId, *, credentials_version: int) -> OpenedSession:
        session_id = SessionId(secrets.token_urlsafe(18))
        secret = secrets.token_urlsafe(32)
        key = self._session_key(session_id)
        with self._errors:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.hset(
                    key,
                    items=[
                        "user",
                        str(user_id),
                        "refresh",
                        _digest(secret),
                        "created",
                        int(time.time()),
                        "cv",
                        credentials_version,
                    ],
                )
                pipe.expire(key, self._ttl)
                pipe.sadd(self._user_key(user_id), session_id)
                pipe.expire(self._user_key(user_id), self._max_age)
                await pipe.execute()
        return OpenedSession(session_id=session_id, refresh_token=f"{session_id}.{secret}")

    async def rotate(self, refresh_token: str) -> RotatedSession:
        session_id, _, secret = refresh_token.partition(".")
        if not session_id or not secret:
            raise SessionRevokedError("The refresh token is not valid.")
        new_secret = secrets.token_urlsafe(32)
        with self._errors:
            outcome = await self._rotate(
                keys=[self._session_key(session_id), self._used_key(session_id)],
                args=[
                    _digest(secret),
                    _digest(new_secret),
                    self._ttl,
                    self._max_age,
                    int(time.time()),
                ],
            )
        if outcome == "reused":
            raise SessionRevokedError(
                "This refresh token was already used; the session has been revoked."
            )
        if not outcome:
            raise SessionRevokedError("The refresh token is not valid or the session has ended.")
        user_id, _, version = str(outcome).partition(" ")
        return RotatedSession(
            session_id=SessionId(session_id),
            user_id=UserId(UUID(user_id)),
            refresh_token=f"{session_id}.{new_secret}",
            credentials_version=int(version),
        )

    async def credentials_version(self, session: AuthenticatedSession) -> int | None:
        with self._errors:
            owner, version = await self._redis.hmget(
                self._session_key(session.session_id), "user", "cv"
            )
        if owner is None or not hmac.compare_digest(str(owner), str(session.user_id)):
            return None
        return int(version) if version is not None else 1  # opened before versions existed

    async def renew(self, session_id: SessionId, *, credentials_version: int) -> None:
        with self._errors:
            await self._renew(keys=[self._session_key(session_id)], args=[credentials_version])

    async def revoke(self, session_id: SessionId) -> None:
        with self._errors:
            owner = await self._redis.hget(self._session_key(session_id), "user")
            await self._redis.delete(self._session_key(session_id), self._used_key(session_id))
            if owner is not None:
                await self._redis.srem(self._user_key(str(owner)), session_id)

    async def prune(self) -> int:
        with self._errors:
            return await self._prune()

    async def _prune(self) -> int:
        pruned = 0
        async for index in self._redis.scan_iter(match=f"{_PREFIX}:user-sessions:*", count=500):
            session_ids = [str(sid) for sid in await self._redis.smembers(index)]
            if not session_ids:
                continue
            async with self._redis.pipeline(transaction=False) as pipe:
                for session_id in session_ids:
                    pipe.exists(self._session_key(session_id))
                alive = await pipe.execute()
            gone = [sid for sid, exists in zip(session_ids, alive, strict=True) if not exists]
            if gone:
                pruned += int(await self._redis.srem(index, *gone))
        return pruned

    async def revoke_all(self, user_id: UserId, *, keep: SessionId | None = None) -> int:
        with self._errors:
            return await self._revoke_all(user_id, keep)

    async def _revoke_all(self, user_id: UserId, keep: SessionId | None) -> int:
        index = self._user_key(user_id)
        session_ids = [str(sid) for sid in await self._redis.smembers(index) if sid != keep]
        if not session_ids:
            return 0
        async with self._redis.pipeline(transaction=False) as pipe:
            for session_id in session_ids:
                pipe.delete(self._session_key(session_id), self._used_key(session_id))
            pipe.srem(index, *session_ids)
            results = await pipe.execute()
        # DEL counts the keys it removed: 1 or 2 per live session, 0 for one that had expired.
        return sum(1 for removed in results[:-1] if removed)
