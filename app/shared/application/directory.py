"""How other contexts reach a user (e-mail address, name) without knowing identity."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol
from uuid import UUID


@dataclass(frozen=True, slots=True)
class Contact:
    email: str
    name: str


class UserDirectory(Protocol):
    async def contact(self, user_id: UUID) -> Contact | None: ...
