"""Who may start and see which order export. Exports hold every customer's orders, so only staff
start them; an export is then visible to whoever started it and to admins. Anyone else gets 404
(ExportNotFoundError), never 403: export ids cannot be probed."""

from __future__ import annotations

from typing import Final
from uuid import UUID

from app.ordering.domain.errors import ExportNotFoundError
from app.ordering.domain.order_export import OrderExport
from app.shared.application.actor import Actor
from app.shared.domain.role import Role

EXPORTS_ORDERS: Final = Role.STAFF
SEES_ALL_EXPORTS: Final = Role.ADMIN


def may_see_export(actor: Actor, requested_by: UUID) -> bool:
    if not actor.has_role(EXPORTS_ORDERS):
        return False
    return actor.user_id == requested_by or actor.has_role(SEES_ALL_EXPORTS)


def export_not_found(export_id: UUID) -> ExportNotFoundError:
    return ExportNotFoundError("No such export.", export_id=str(export_id))


def visible_export(actor: Actor, export: OrderExport | None, export_id: UUID) -> OrderExport:
    if export is None or not may_see_export(actor, export.requested_by):
        raise export_not_found(export_id)
    return export
