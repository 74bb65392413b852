"""End to end in a real headless Chromium: the app runs a site selection and draws the map offline.

Starts ``streamlit run app.py`` on a free localhost port, drives Debian's Chromium with Playwright,
blocks and records every request that leaves localhost, runs a site selection on the demo region,
checks that the hexagons are drawn (Leaflet path elements inside the map's iframe) and saves a
screenshot. Set ``XINGTU_SCREENSHOT=path.png`` to keep a copy of the screenshot.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}

pytestmark = [pytest.mark.browser, pytest.mark.slow]

if not CHROMIUM.exists() and not os.environ.get("CI"):
    pytest.skip("Chromium is not installed (run `make browser`); in CI this test fails instead",
                allow_module_level=True)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until_healthy(url: str, process: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited with code {process.returncode}")
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"streamlit did not answer at {url} within {timeout:.0f} s")


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("app")
    port = _free_port()
    env = {**os.environ, "XINGTU_DATABASE_URL": f"sqlite:///{folder / 'xingtu.sqlite'}",
           "XINGTU_MAP_TILES": "none"}
    log = (folder / "streamlit.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true",
         "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_healthy(url, process)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


class RequestGuard:
    """Lets requests to localhost through; blocks and records every other one."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self.outside: list[str] = []

    def __call__(self, route: Any) -> None:  # a playwright Route
        url = route.request.url
        self.requests.append(url)
        host = urlparse(url).hostname or ""
        if url.startswith(("data:", "blob:", "about:")) or host in LOCAL_HOSTS:
            route.continue_()
        else:
            self.outside.append(url)
            route.abort()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                              args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def test_site_selection_draws_hexagons_with_no_outside_request(app_url: str, browser,
                                                               tmp_path: Path) -> None:
    from playwright.sync_api import expect

    guard = RequestGuard()
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.route("**/*", guard)
    page = context.new_page()
    try:
        page.goto(f"{app_url}/site_selection", wait_until="domcontentloaded")
        run_button = page.get_by_role("button", name="Run site selection")
        expect(run_button).to_be_visible(timeout=90_000)
        run_button.click()
        expect(page.get_by_text("Chosen sites and why")).to_be_visible(timeout=120_000)

        frame = page.frame_locator('iframe[title="streamlit_folium.st_folium"]').first
        hexagons = frame.locator("path.leaflet-interactive")
        expect(hexagons.first).to_be_attached(timeout=60_000)
        page.wait_for_timeout(1500)  # let the last layers settle before counting and shooting
        n_paths = hexagons.count()
        assert n_paths > 500, f"only {n_paths} shapes drawn on the map"
        assert frame.locator(".xingtu-legend").count() == 1
        assert page.locator('[data-testid="stException"]').count() == 0

        shot = tmp_path / "app.png"
        page.screenshot(path=str(shot), full_page=False)
        assert shot.stat().st_size > 20_000
        keep = os.environ.get("XINGTU_SCREENSHOT")
        if keep:
            Path(keep).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(shot, keep)
    finally:
        context.close()

    assert any("/app/static/leaflet/leaflet.js" in url for url in guard.requests)
    assert guard.outside == [], f"requests left localhost: {sorted(set(guard.outside))}"


PAGES = {"": "Battlefields", "scenarios": "Scenarios", "allocation": "Weekly allocation",
         "repair_shops": "Repair shops", "upload": "Upload your data"}
MAP_PAGES = {"", "repair_shops"}


def test_every_page_opens_without_error_or_outside_request(app_url: str, browser) -> None:
    from playwright.sync_api import expect

    guard = RequestGuard()
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.route("**/*", guard)
    page = context.new_page()
    try:
        for path, title in PAGES.items():
            page.goto(f"{app_url}/{path}", wait_until="domcontentloaded")
            expect(page.get_by_role("heading", name=title)).to_be_visible(timeout=90_000)
            if path in MAP_PAGES:
                frame = page.frame_locator('iframe[title="streamlit_folium.st_folium"]').first
                expect(frame.locator("path.leaflet-interactive").first).to_be_attached(
                    timeout=60_000)
            assert page.locator('[data-testid="stException"]').count() == 0, path
    finally:
        context.close()
    assert guard.outside == [], f"requests left localhost: {sorted(set(guard.outside))}"
