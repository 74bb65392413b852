"""Fixtures of the app's tests: a database of each test's own, AppTest pages, the app served on
localhost and Debian's Chromium for the real-browser tests.
"""

from __future__ import annotations

import atexit
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
"""The project folder: ``app.py`` and ``app_pages/``."""
sys.path.insert(0, str(ROOT))  # the app's pages import app_pages.common, as under `streamlit run`

from streamlit.testing.v1 import AppTest  # noqa: E402
from streamlit.testing.v1 import app_test as _app_test  # noqa: E402

from xingtu import app_driver  # noqa: E402

# Streamlit keeps a module-level temporary folder; remove it before exit (else a ResourceWarning).
atexit.register(_app_test.TMP_DIR.cleanup)


@pytest.fixture
def db_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The URL of a database of the test's own, set in ``XINGTU_DATABASE_URL`` for the app."""
    url = f"sqlite:///{tmp_path / 'app.sqlite'}"
    monkeypatch.setenv("XINGTU_DATABASE_URL", url)
    return url


def app_page(name: str, *, timeout: float) -> AppTest:
    """Return an AppTest of the page ``app_pages/<name>.py``, not run yet.

    Parameters
    ----------
    name
        The page's file name without ``.py``, e.g. ``"upload"``.
    timeout
        Seconds a run of the page may take before the test fails.
    """
    return AppTest.from_file(str(ROOT / "app_pages" / f"{name}.py"), default_timeout=timeout)


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
