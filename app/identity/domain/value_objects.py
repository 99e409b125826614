"""Self-validating value objects of the identity context."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import NewType
from uuid import UUID

from app.identity.domain.errors import InvalidEmailError, InvalidUsernameError, WeakPasswordError

UserId = NewType("UserId", UUID)

_USERNAME = re.compile(r"^[a-z0-9](?:[a-z0-9]|[._-](?=[a-z0-9])){2,31}$")
# Structural check only (RFC 5321 limits, one "@", a dotted domain of LDH labels, a top-level label
# that starts with a letter): deliverability is proven by sending mail, not by a regular expression.
_EMAIL_LOCAL = re.compile(r"^[a-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}$")
_DOMAIN_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


class UserStatus(StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"


@dataclass(frozen=True, slots=True)
class Username:
    """3 to 32 characters: lowercase letters, digits and single ``.``, ``_`` or ``-`` between them.

    Stored lowercased, so uniqueness is case-insensitive by construction.
    """

    value: str

    def __post_init__(self) -> None:
        if not _USERNAME.fullmatch(self.value):
            raise InvalidUsernameError(
                "A username has 3 to 32 characters: letters, digits, and '.', '_' or '-' "
                "between them, starting and ending with a letter or digit."
            )

    @classmethod
    def parse(cls, raw: str) -> Username:
        # ASCII before folding: "\u212a".lower() is "k", and no other spelling may name alice.
        stripped = raw.strip()
        return cls(stripped.lower() if stripped.isascii() else stripped)


@dataclass(frozen=True, slots=True)
class Email:
    """An e-mail address, stored lowercased (case-insensitive uniqueness)."""

    value: str

    def __post_init__(self) -> None:
        local, at, domain = self.value.rpartition("@")
        labels = domain.split(".")
        if not (
            at
            and len(self.value) <= 254
            and _EMAIL_LOCAL.fullmatch(local)
            and not local.startswith(".")
            and not local.endswith(".")
            and ".." not in local
            and len(labels) >= 2
            and all(_DOMAIN_LABEL.fullmatch(label) for label in labels)
            and labels[-1][:1].isalpha()
        ):
            raise InvalidEmailError("The e-mail address is not valid.")

    @classmethod
    def parse(cls, raw: str) -> Email:
        stripped = raw.strip()  # ASCII before folding, as for usernames
        return cls(stripped.lower() if stripped.isascii() else stripped)

    @property
    def local_part(self) -> str:
        return self.value.rpartition("@")[0]


@dataclass(frozen=True, slots=True, repr=False)
class RawPassword:
    """A password in clear text; never printed, never stored.

    Construction only bounds the length (hashing cost); the policy for *new* passwords lives in
    ``ensure_acceptable_for`` so that logging in with an old, weaker password still works.
    """

    value: str

    MIN_LENGTH = 8
    MAX_LENGTH = 128
    HARD_LIMIT = 1024

    def __post_init__(self) -> None:
        if not 0 < len(self.value) <= self.HARD_LIMIT:
            raise WeakPasswordError(f"A password has 1 to {self.HARD_LIMIT} characters.")

    def __repr__(self) -> str:
        return "RawPassword('********')"

    def ensure_acceptable_for(self, username: Username, email: Email) -> None:
        """The policy for new passwords: length bounds, not blank, unrelated to the account."""
        if not self.MIN_LENGTH <= len(self.value) <= self.MAX_LENGTH:
            raise WeakPasswordError(
                f"A password has {self.MIN_LENGTH} to {self.MAX_LENGTH} characters."
            )
        if not self.value.strip():
            raise WeakPasswordError("A password cannot be only white space.")
        folded = self.value.casefold()
        for identifier in (username.value, email.value, email.local_part):
            if len(identifier) >= 3 and identifier.casefold() in folded:
                raise WeakPasswordError("The password must not contain your username or e-mail.")


@dataclass(frozen=True, slots=True, repr=False)
class PasswordHash:
    """An encoded password hash (algorithm and parameters included)."""

    value: str

    def __repr__(self) -> str:
        return "PasswordHash('********')"
