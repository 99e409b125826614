"""HTTP routes of order exports: start (202), poll, cancel, download. No `from __future__ import
annotations` here (Dishka's injection wrapper, see orders_router)."""

from datetime import UTC, datetime
from typing import Annotated, Final
from uuid import UUID

from dishka.integrations.fastapi import FromDishka
from fastapi import Depends, Query, Response, status
from fastapi.responses import StreamingResponse

from app.ordering.application.commands.cancel_order_export import (
    CancelOrderExport,
    CancelOrderExportRequest,
)
from app.ordering.application.commands.start_order_export import (
    StartOrderExport,
    StartOrderExportRequest,
)
from app.ordering.application.ports.order_exports import OrderExportView
from app.ordering.application.queries.download_order_export import (
    DownloadOrderExport,
    DownloadOrderExportRequest,
)
from app.ordering.application.queries.get_order_export import (
    GetOrderExport,
    GetOrderExportRequest,
)
from app.ordering.application.queries.list_order_exports import (
    ListOrderExports,
    ListOrderExportsRequest,
)
from app.ordering.domain.order_export import ExportStatus, is_downloadable
from app.ordering.presentation.http.schemas import (
    OrderExportOut,
    OrderExportPageOut,
    StartExportBody,
)
from app.shared.presentation.http.bearer import oauth2_scheme
from app.shared.presentation.http.openapi import links, problems
from app.shared.presentation.http.routing import PrefixedRouter

PREFIX: Final = "/api/v1/order-exports"

router = PrefixedRouter(
    prefix=PREFIX,
    tags=["order-exports"],
    dependencies=[Depends(oauth2_scheme)],
)


def _out(view: OrderExportView) -> OrderExportOut:
    status_url = f"{PREFIX}/{view['id']}"
    downloadable = is_downloadable(
        ExportStatus(view["status"]), view["expires_at"], at=datetime.now(UTC)
    )
    return OrderExportOut.model_validate(
        {
            **view,
            "status_url": status_url,
            "download_url": f"{status_url}/download" if downloadable else None,
        }
    )


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        **problems(401, 403, 409),
        **links(
            202,
            "export_id",
            "$response.body#/id",
            "order-exports-get_export",
            "order-exports-cancel_export",
            "order-exports-download_export",
        ),
    },
)
async def start_export(
    body: StartExportBody, response: Response, interactor: FromDishka[StartOrderExport]
) -> OrderExportOut:
    """Staff: a CSV of the orders placed on the given UTC days, written in the background. Poll
    `status_url` for progress; `download_url` appears when the file is ready."""
    view = await interactor(
        StartOrderExportRequest(first_day=body.first_day, last_day=body.last_day)
    )
    out = _out(view)
    response.headers["Location"] = out.status_url
    return out


@router.get("", responses=problems(401, 403))
async def list_exports(
    interactor: FromDishka[ListOrderExports],
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[
        str | None, Query(max_length=512, description="The previous page's next_cursor")
    ] = None,
) -> OrderExportPageOut:
    """Staff: your exports, newest first (admins: everyone's), one page at a time."""
    page = await interactor(ListOrderExportsRequest(limit=limit, cursor=cursor))
    return OrderExportPageOut(
        items=[_out(view) for view in page["items"]], next_cursor=page["next_cursor"]
    )


@router.get("/{export_id}", responses=problems(401, 404))
async def get_export(export_id: UUID, interactor: FromDishka[GetOrderExport]) -> OrderExportOut:
    """Status and progress (rows written, percent) of an export you started (admins: any)."""
    return _out(await interactor(GetOrderExportRequest(export_id=export_id)))


@router.post("/{export_id}/cancel", responses=problems(401, 404, 409))
async def cancel_export(
    export_id: UUID, interactor: FromDishka[CancelOrderExport]
) -> OrderExportOut:
    """Stop a queued or running export and delete what it wrote; 409 once it completed."""
    return _out(await interactor(CancelOrderExportRequest(export_id=export_id)))


@router.get(
    "/{export_id}/download",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/csv": {}}, "description": "The CSV file"},
        **problems(401, 404, 409, 410),
    },
)
async def download_export(
    export_id: UUID, interactor: FromDishka[DownloadOrderExport]
) -> StreamingResponse:
    """The CSV (UTF-8, one row per order), streamed; 409 until complete, 410 once expired."""
    download = await interactor(DownloadOrderExportRequest(export_id=export_id))
    return StreamingResponse(
        download.content,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{download.filename}"',
            "Content-Length": str(download.size_bytes),
            # Every customer's orders: never kept by a shared cache.
            "Cache-Control": "no-store",
        },
    )
