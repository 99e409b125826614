from __future__ import annotations

from dataclasses import dataclass
from typing import TypedDict

from app.identity.application.ports.user_repository import UserRepository
from app.identity.domain.user_service import UserService
from app.identity.domain.value_objects import Email, RawPassword, Username
from app.shared.application.ports import Clock, TransactionManager


@dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class SignUpRequest:
    username: str
    email: str
    password: str


class SignUpResponse(TypedDict):
    id: str


class SignUp:
    """Anyone may open a customer account; usernames and e-mails are unique, case-insensitively."""

    def __init__(
        self,
        users: UserRepository,
        user_service: UserService,
        transaction: TransactionManager,
        clock: Clock,
    ) -> None:
        self._users = users
        self._user_service = user_service
        self._transaction = transaction
        self._clock = clock

    async def __call__(self, request: SignUpRequest) -> SignUpResponse:
        user = await self._user_service.create_user(
            username=Username.parse(request.username),
            email=Email.parse(request.email),
            password=RawPassword(request.password),
            at=self._clock.now(),
        )
        self._users.add(user)
        await self._transaction.commit()
        return SignUpResponse(id=str(user.id_))
