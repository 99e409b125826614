"""Self-validating value objects of the catalog."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum
from typing import NewType
from uuid import UUID

from app.catalog.domain.errors import (
    InvalidDescriptionError,
    InvalidProductNameError,
    InvalidSkuError,
    InvalidStockChangeError,
)

ProductId = NewType("ProductId", UUID)


def _has_control(text: str) -> bool:
    """A control character (after white space is collapsed, none is white space) or half a
    surrogate pair, which no database can store. Format and private-use characters are text:
    an emoji sequence joins its parts with U+200D."""
    return any(unicodedata.category(char) in {"Cc", "Cs"} for char in text)


_SKU = re.compile(r"^[A-Z0-9](?:[A-Z0-9]|-(?=[A-Z0-9])){2,31}$")


class ProductStatus(StrEnum):
    ACTIVE = "active"
    ARCHIVED = "archived"


@dataclass(frozen=True, slots=True)
class Sku:
    """Stock keeping unit: 3 to 32 of A-Z, 0-9 and single inner dashes; normalised to upper case
    (so uniqueness ignores case and surrounding blanks)."""

    value: str

    def __post_init__(self) -> None:
        if not _SKU.fullmatch(self.value):
            raise InvalidSkuError(
                "A SKU has 3 to 32 characters: letters, digits and single dashes between them."
            )

    @classmethod
    def parse(cls, raw: str) -> Sku:
        # ASCII before folding: "ß".upper() is "SS".
        stripped = raw.strip()
        return cls(stripped.upper() if stripped.isascii() else stripped)


@dataclass(frozen=True, slots=True)
class ProductName:
    value: str

    MAX_LENGTH = 200

    def __post_init__(self) -> None:
        if not 0 < len(self.value) <= self.MAX_LENGTH or _has_control(self.value):
            raise InvalidProductNameError(
                f"A product name has 1 to {self.MAX_LENGTH} characters and no control character."
            )

    @classmethod
    def parse(cls, raw: str) -> ProductName:
        return cls(" ".join(raw.split()))


@dataclass(frozen=True, slots=True)
class Description:
    value: str

    MAX_LENGTH = 5000

    def __post_init__(self) -> None:
        if len(self.value) > self.MAX_LENGTH or "\x00" in self.value:
            raise InvalidDescriptionError(
                f"A description has at most {self.MAX_LENGTH} characters."
            )

    @classmethod
    def parse(cls, raw: str) -> Description:
        return cls(raw.strip())


@dataclass(frozen=True, slots=True)
class StockChangeReason:
    """Why stock moved (audit trail in the events): 3 to 200 characters."""

    value: str

    def __post_init__(self) -> None:
        if not 3 <= len(self.value) <= 200 or _has_control(self.value):
            raise InvalidStockChangeError("A stock change needs a reason of 3 to 200 characters.")

    @classmethod
    def parse(cls, raw: str) -> StockChangeReason:
        return cls(" ".join(raw.split()))
