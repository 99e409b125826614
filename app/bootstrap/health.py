"""HTTP routes. No `from __future__ import annotations` here: FastAPI reads the annotations of
Dishka's injection wrapper, which cannot resolve postponed (string) annotations."""

from typing import Any

from dishka.integrations.fastapi import FromDishka
from fastapi.responses import JSONResponse

from app.shared.infrastructure.readiness import ReadinessChecker
from app.shared.presentation.http.routing import PrefixedRouter

router = PrefixedRouter(prefix="/health", tags=["health"])


@router.get("/live", summary="Liveness: the process serves requests (no I/O)")
async def live() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/ready",
    summary="Readiness: PostgreSQL and Redis answer, and the schema is not behind this code",
    responses={503: {"description": "A check failed; the body says which"}},
)
async def ready(checker: FromDishka[ReadinessChecker]) -> Any:  # noqa: ANN401
    checks = await checker.check()
    healthy = all(result == "ok" for result in checks.values())
    return JSONResponse(
        {"status": "ok" if healthy else "unavailable", "checks": checks},
        status_code=200 if healthy else 503,
    )
