"""Fixtures of the real-browser tests: the app served on localhost, Debian's Chromium."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from xingtu import app_driver


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app on a free localhost port, with a database of its own (one per test module)."""
    if not app_driver.CHROMIUM.exists() and not os.environ.get("CI"):
        pytest.skip("Chromium is not installed (run `make browser`); in CI this test fails instead")
    with app_driver.serve_app(tmp_path_factory.mktemp("app")) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's headless Chromium driven by Playwright."""
    if not app_driver.CHROMIUM.exists() and not os.environ.get("CI"):
        pytest.skip("Chromium is not installed (run `make browser`); in CI this test fails instead")
    with app_driver.chromium() as chromium:
        yield chromium
