"""Self-validating value objects of the catalog."""

from __future__ import annotations

import re
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
        return cls(raw.strip().upper())


@dataclass(frozen=True, slots=True)
class ProductName:
    value: str

    MAX_LENGTH = 200

    def __post_init__(self) -> None:
        if not 0 < len(self.value) <= self.MAX_LENGTH or not self.value.isprintable():
            raise InvalidProductNameError(
                f"A product name has 1 to {self.MAX_LENGTH} printable characters."
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
        if not 3 <= len(self.value) <= 200 or not self.value.isprintable():
            raise InvalidStockChangeError("A stock change needs a reason of 3 to 200 characters.")

    @classmethod
    def parse(cls, raw: str) -> StockChangeReason:
        return cls(" ".join(raw.split()))
