"""OpenAPI helpers: documented problem responses and clean operation ids."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict


class Problem(BaseModel):
    """RFC 9457 problem details, with a stable ``code`` and the ``request_id``."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    instance: str
    code: str
    request_id: str | None = None


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """Response docs for the problem statuses an operation can return (422 is always implied)."""
    documented = {*statuses, 422}
    return {
        status: {
            "model": Problem,
            "description": HTTPStatus(status).phrase,
            "content": {"application/problem+json": {}},
        }
        for status in sorted(documented)
    }


def operation_id(route: APIRoute) -> str:
    tag = route.tags[0] if route.tags else "default"
    return f"{tag}-{route.name}"
