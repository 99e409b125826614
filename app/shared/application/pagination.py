"""What every listing returns: one page of read models and the cursor to the next."""

from __future__ import annotations

from typing import Generic, TypedDict, TypeVar

T = TypeVar("T")


class Page(TypedDict, Generic[T]):
    """One page of a keyset listing; ``next_cursor`` is None on the last page. The cursor is
    opaque to callers: only the reader that issued it can read it back."""

    items: list[T]
    next_cursor: str | None
