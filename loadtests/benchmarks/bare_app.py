"""The yardstick of the HTTP benchmark: a bare FastAPI app on asyncpg and redis-py, with raw SQL,
no ORM, no DI and no middleware, doing the same work per request as the platform's routes:

- ``GET /health/live``: nothing at all (the platform's liveness probe);
- ``GET /api/v1/users``: verify the JWT (HS256, the same claims), check the session in Redis and
  the caller's role in PostgreSQL, then read 20 users newest first;
- ``GET /api/v1/products/{id}``: one product by id, from PostgreSQL (the platform serves it from
  its cache, which is the point of the comparison);
- ``POST /api/v1/auth/login``: the user's hash from PostgreSQL, an Argon2 verification in a
  thread pool of the platform's size (the same parameters: they are in the stored hash), a
  session hash in Redis and a JWT.

Run by ``loadtests/benchmarks/http_vs_bare.py`` under gunicorn with the platform's worker class,
from ``BARE_DB_URL``, ``BARE_REDIS_URL`` and ``BARE_JWT_SECRET``.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any
from uuid import UUID

import asyncpg
import jwt
from argon2 import PasswordHasher
from argon2.exceptions import VerifyMismatchError
from fastapi import FastAPI, HTTPException, Request
from redis.asyncio import Redis

_USERS = """
SELECT id, username, email, role, status, created_at, updated_at FROM users
ORDER BY created_at DESC, id DESC LIMIT 21
"""
_PRODUCT = """
SELECT id, sku, name, description, price_amount, price_currency, stock_on_hand, status, version,
       created_at, updated_at
FROM products WHERE id = $1
"""
_ROLE = "SELECT role FROM users WHERE id = $1 AND status = 'active'"
_LOGIN = "SELECT id, password_hash FROM users WHERE username = $1 AND status = 'active'"
_hashing = ThreadPoolExecutor(max_workers=int(os.environ.get("APP_AUTH_HASH_THREADS", "2")))
_argon2 = PasswordHasher()


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    dsn = os.environ["BARE_DB_URL"].replace("postgresql+asyncpg://", "postgresql://")
    app.state.pool = await asyncpg.create_pool(dsn, min_size=2, max_size=10)
    app.state.redis = Redis.from_url(os.environ["BARE_REDIS_URL"], decode_responses=True)
    yield
    await app.state.pool.close()
    await app.state.redis.aclose()


app = FastAPI(lifespan=_lifespan, docs_url=None, redoc_url=None, openapi_url=None)
_SECRET = os.environ.get("BARE_JWT_SECRET", "")


@app.get("/health/live")
async def live() -> dict[str, str]:
    return {"status": "ok"}


async def _admin(request: Request) -> None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    try:
        claims = jwt.decode(
            token,
            _SECRET,
            algorithms=["HS256"],
            audience="fastapi-platform",
            issuer="fastapi-platform",
            options={"require": ["sub", "sid", "exp", "iat", "iss", "aud"]},
        )
    except jwt.PyJWTError:
        raise HTTPException(401) from None
    owner = await request.app.state.redis.hget(f"identity:session:{{{claims['sid']}}}", "user")
    if scheme.lower() != "bearer" or owner != claims["sub"]:
        raise HTTPException(401)
    role = await request.app.state.pool.fetchval(_ROLE, UUID(claims["sub"]))
    if role not in {"admin", "super_admin"}:
        raise HTTPException(403)


@app.get("/api/v1/users")
async def users(request: Request) -> dict[str, Any]:
    await _admin(request)
    rows = await request.app.state.pool.fetch(_USERS)
    return {"items": [dict(row) for row in rows[:20]], "next_cursor": None}


@app.post("/api/v1/auth/login")
async def log_in(request: Request) -> dict[str, Any]:
    body = await request.json()
    row = await request.app.state.pool.fetchrow(_LOGIN, str(body["login"]).strip().lower())
    if row is None:
        raise HTTPException(401)
    loop = asyncio.get_running_loop()
    try:
        await loop.run_in_executor(_hashing, _argon2.verify, row["password_hash"], body["password"])
    except VerifyMismatchError:
        raise HTTPException(401) from None
    session_id, now = secrets.token_urlsafe(18), int(time.time())
    await request.app.state.redis.hset(
        f"identity:session:{{{session_id}}}",
        mapping={"user": str(row["id"]), "refresh": secrets.token_hex(32), "created": now},
    )
    claims = {
        "sub": str(row["id"]), "sid": session_id, "iat": now, "exp": now + 900,
        "iss": "fastapi-platform", "aud": "fastapi-platform",
    }  # fmt: skip
    return {"access_token": jwt.encode(claims, _SECRET, algorithm="HS256"), "token_type": "bearer"}


@app.get("/api/v1/products/{product_id}")
async def product(product_id: UUID, request: Request) -> dict[str, Any]:
    row = await request.app.state.pool.fetchrow(_PRODUCT, product_id)
    if row is None:
        raise HTTPException(404)
    view = dict(row)
    view["price_amount"] = str(view["price_amount"])
    view["in_stock"] = view["stock_on_hand"] > 0
    return view
