"""The image tests build the four images and run them against the host's PostgreSQL and Redis.
They take minutes, so they run only through ``make images-test`` (IMAGES_TEST=1)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.images.build import Images, Services, build_images, host_services, wait_for

__all__ = ["Images", "Services", "wait_for"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("IMAGES_TEST") == "1":
        return
    skip = pytest.mark.skip(reason="image tests run with `make images-test` (IMAGES_TEST=1)")
    for item in items:
        if "tests/images/" in str(item.path).replace("\\", "/"):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def images() -> Images:
    return build_images()


@pytest.fixture(scope="session")
def services() -> Iterator[Services]:
    with host_services("images") as found:
        yield found
