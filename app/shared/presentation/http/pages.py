"""The response of every listing: a page of items and the cursor to the next (``Page``)."""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel

ItemT = TypeVar("ItemT")


class PageOut(BaseModel, Generic[ItemT]):
    """Each listing names its own page (``class ProductPageOut(PageOut[ProductOut])``), so the
    OpenAPI schema keeps that name rather than a generated ``PageOut_ProductOut_``."""

    items: list[ItemT]
    next_cursor: str | None
