from __future__ import annotations

from starlette.requests import Request


def client_address(request: Request) -> str:
    """The caller's address; X-Forwarded-For was already applied for trusted proxies only."""
    return request.client.host if request.client is not None else "unknown"
