from __future__ import annotations

from app.ordering.domain.order import Order
from app.shared.application.stock import StockRequest


def stock_held_by(order: Order) -> list[StockRequest]:
    """What a cancelled or expired order gives back: every line's quantity."""
    return [
        StockRequest(product_id=line.product_id, quantity=line.quantity) for line in order.lines
    ]
