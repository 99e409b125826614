"""The User entity: thin state plus the rules about its own transitions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from app.identity.domain.errors import RoleNotAssignableError
from app.identity.domain.events import SignUpWithTakenEmail
from app.identity.domain.value_objects import Email, PasswordHash, UserId, Username, UserStatus
from app.shared.domain.events import AggregateRoot
from app.shared.domain.role import Role


@dataclass(eq=False, kw_only=True)
class User(AggregateRoot):
    id_: UserId
    username: Username
    email: Email
    password_hash: PasswordHash
    role: Role
    status: UserStatus
    created_at: datetime
    updated_at: datetime
    # Bumped by every password change; each session carries the version it was opened with, so
    # a session opened with an old password (a log-in racing the change) is refused.
    credentials_version: int = 1

    @property
    def is_active(self) -> bool:
        return self.status is UserStatus.ACTIVE

    def assign_role(self, role: Role, *, at: datetime) -> None:
        if not role.is_assignable:
            raise RoleNotAssignableError(f"The role {role.value!r} cannot be assigned.")
        self.role = role
        self.updated_at = at

    def deactivate(self, *, at: datetime) -> None:
        self.status = UserStatus.INACTIVE
        self.updated_at = at

    def activate(self, *, at: datetime) -> None:
        self.status = UserStatus.ACTIVE
        self.updated_at = at

    def replace_password_hash(self, password_hash: PasswordHash, *, at: datetime) -> None:
        """The same password, hashed anew (stronger parameters): the credentials stay."""
        self.password_hash = password_hash
        self.updated_at = at

    def change_password_hash(self, password_hash: PasswordHash, *, at: datetime) -> None:
        """A new password: sessions opened with the old one are no longer valid."""
        self.replace_password_hash(password_hash, at=at)
        self.credentials_version += 1

    def record_sign_up_with_this_email(self, *, at: datetime) -> None:
        self.record(SignUpWithTakenEmail(aggregate_id=self.id_, occurred_at=at))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, User) and other.id_ == self.id_

    def __hash__(self) -> int:
        return hash(self.id_)
