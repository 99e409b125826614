"""Events of the identity context, stored in the outbox with the change that raised them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from app.shared.domain.events import DomainEvent


@dataclass(frozen=True, kw_only=True)
class SignUpWithTakenEmail(DomainEvent):
    """Someone tried to open an account with this user's e-mail address. The sign-up was
    answered as if it had worked (the answer must not tell whether an address is registered);
    the address's owner is told instead. No text of the attempt is carried: it would reach the
    owner's inbox."""

    aggregate_type: ClassVar[str] = "user"
