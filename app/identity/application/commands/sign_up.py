from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass
from typing import TypedDict

from app.identity.application.ports.user_repository import UserRepository
from app.identity.domain.errors import EmailTakenError
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
    """Anyone may open a customer account; usernames and e-mails are unique, case-insensitively.

    The answer never tells whether an e-mail address is registered (security review, finding
    6): for a taken address no account is opened, the address's owner is told by e-mail, and
    the caller gets the same 201 with an id that no account will ever have, after the same
    work (the password is hashed either way). Usernames stay enumerable: a taken one is a 409.
    """

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
        email = Email.parse(request.email)
        now = self._clock.now()
        user = await self._user_service.create_user(
            username=Username.parse(request.username),
            email=email,
            password=RawPassword(request.password),
            at=now,
        )
        owner = await self._users.get_by_email(email)
        if owner is not None:
            owner.record_sign_up_with_this_email(at=now)
            await self._transaction.commit()
            return SignUpResponse(id=str(user.id_))
        self._users.add(user)
        # Registered by a concurrent sign-up since the look-up: the same answer, unnoticed by
        # the owner this once (the other sign-up may well be theirs).
        with suppress(EmailTakenError):
            await self._transaction.commit()
        return SignUpResponse(id=str(user.id_))
