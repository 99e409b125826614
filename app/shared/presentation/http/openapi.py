"""OpenAPI helpers: documented problem responses and clean operation ids."""

from __future__ import annotations

from collections.abc import Iterable
from http import HTTPStatus
from typing import Any, Final

from fastapi import FastAPI
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


def links(
    status: int, parameter: str, expression: str, *operation_ids: str
) -> dict[int | str, dict[str, Any]]:
    """OpenAPI links from an operation's ``status`` answer to the operations that take what it
    returned as ``parameter`` (a runtime expression, ``$response.body#/id``): a client, or
    schemathesis's stateful phase, follows a create to the reads and commands of what it made."""
    return {
        status: {
            "links": {
                operation_id: {"operationId": operation_id, "parameters": {parameter: expression}}
                for operation_id in operation_ids
            }
        }
    }


# What any operation with a request body may answer before its own code runs: a body that is not
# JSON (or not a form, for the log-in), and a body over APP_HTTP_MAX_BODY_BYTES.
BODY_PROBLEMS: Final = (HTTPStatus.BAD_REQUEST, HTTPStatus.REQUEST_ENTITY_TOO_LARGE)


def with_body_problems(app: FastAPI) -> None:
    """Document BODY_PROBLEMS on every operation that takes a body, in the schema FastAPI builds
    (and caches) on its first request."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        schema = build()
        problem_ref = {"$ref": "#/components/schemas/Problem"}
        for path in schema.get("paths", {}).values():
            for operation in path.values():
                if not isinstance(operation, dict) or "requestBody" not in operation:
                    continue
                responses = operation.setdefault("responses", {})
                for status in BODY_PROBLEMS:
                    responses.setdefault(
                        str(int(status)),
                        {
                            "description": status.phrase,
                            "content": {"application/problem+json": {"schema": problem_ref}},
                        },
                    )
        return schema

    app.openapi = openapi  # type: ignore[method-assign] # FastAPI's documented customisation


def with_unavailable_problem(app: FastAPI, *, exempt: Iterable[str]) -> None:
    """Document 503 on every operation but the exempt ones: each can meet a dependency that is
    down (``dependency_unavailable``) or, with ``APP_HTTP_MAX_IN_FLIGHT`` set, a process at its
    bound (``overloaded``, ``shedding.py``); an operation that documents its own 503 keeps it."""
    build = app.openapi
    never = frozenset(exempt)

    def openapi() -> dict[str, Any]:
        schema = build()
        problem_ref = {"$ref": "#/components/schemas/Problem"}
        for path, item in schema.get("paths", {}).items():
            if path in never:
                continue
            for operation in item.values():
                if not isinstance(operation, dict):
                    continue
                responses = operation.setdefault("responses", {})
                responses.setdefault(
                    "503",
                    {
                        "description": "Unavailable: a dependency is down, or the process is "
                        "overloaded; retry after Retry-After seconds",
                        "headers": {"Retry-After": {"schema": {"type": "integer"}}},
                        "content": {"application/problem+json": {"schema": problem_ref}},
                    },
                )
        return schema

    app.openapi = openapi  # type: ignore[method-assign] # FastAPI's documented customisation


def operation_id(route: APIRoute) -> str:
    tag = route.tags[0] if route.tags else "default"
    return f"{tag}-{route.name}"
