from __future__ import annotations

from dataclasses import dataclass, field

from app.identity.application.permissions import ensure_manages_users
from app.identity.application.ports.user_reader import UserFilter, UserReader, UserSort, UserView
from app.shared.application.actor import ActorProvider
from app.shared.application.pagination import Page


@dataclass(frozen=True, slots=True, kw_only=True)
class ListUsersRequest:
    filter_: UserFilter = field(default_factory=UserFilter)
    sort: UserSort = UserSort.CREATED_AT_DESC
    limit: int = 20
    cursor: str | None = None


class ListUsers:
    """Admins page through users with filters and a stable sort (keyset pagination)."""

    MAX_LIMIT = 100

    def __init__(self, actors: ActorProvider, reader: UserReader) -> None:
        self._actors = actors  # a role check needs no entity: one narrow read
        self._reader = reader

    async def __call__(self, request: ListUsersRequest) -> Page[UserView]:
        ensure_manages_users(await self._actors.current())
        return await self._reader.list(
            filter_=request.filter_,
            sort=request.sort,
            limit=max(1, min(request.limit, self.MAX_LIMIT)),
            cursor=request.cursor,
        )
