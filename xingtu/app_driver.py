"""Drive the app in a headless Chromium: serve it on localhost, keep every request local.

Used by the end-to-end browser test, the app speed benchmark (``bench/app_speed.py``) and the
screenshot script (``bench/screenshots.py``). It starts ``streamlit run app.py`` on a free
localhost port with its own database, launches Debian's Chromium through Playwright (installed
with ``make browser``; Playwright's own browser download is not used) and routes every request
through :class:`RequestGuard`, which lets localhost through and blocks and records everything
else, so a run proves the app works offline.

Playwright is a development dependency: import this module only where a browser is driven.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
"""The project folder, where ``app.py`` is."""

CHROMIUM = Path(os.environ.get("XINGTU_CHROMIUM", "/usr/bin/chromium"))
"""Debian's Chromium (``apt-get install chromium``)."""

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}
MAP_FRAME = 'iframe[title="streamlit_folium.st_folium"]'
"""Selector of the iframe ``streamlit-folium`` draws a map in."""


def free_port() -> int:
    """Return a TCP port free on localhost now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_healthy(url: str, process: subprocess.Popen, timeout: float = 90.0) -> None:
    """Wait until Streamlit answers its health check, or raise if it exits or times out."""
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


@contextmanager
def serve_app(folder: Path) -> Iterator[str]:
    """Run the app on a free localhost port with a fresh database in ``folder``; yield its URL."""
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {**os.environ, "XINGTU_DATABASE_URL": f"sqlite:///{folder / 'xingtu.sqlite'}",
           "XINGTU_MAP_TILES": "none"}
    with (folder / "streamlit.log").open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
             "--server.address", "127.0.0.1", "--server.headless", "true",
             "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until_healthy(url, process)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


class RequestGuard:
    """Lets requests to localhost through; blocks and records every other one."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self.outside: list[str] = []

    def __call__(self, route: Any) -> None:
        """Let a playwright ``Route`` through if it stays on localhost, else abort it."""
        url = route.request.url
        self.requests.append(url)
        host = urlparse(url).hostname or ""
        if url.startswith(("data:", "blob:", "about:")) or host in LOCAL_HOSTS:
            route.continue_()
        else:
            self.outside.append(url)
            route.abort()


@contextmanager
def chromium() -> Iterator[Any]:
    """Launch Debian's headless Chromium through Playwright; yield the browser."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                             args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def map_state(page: Any, index: int = 0) -> tuple[int, str]:
    """Return ``(cells drawn, stamp of their colours)`` of the ``index``-th map on the page.

    Both come from attributes the cell layers set on the map once drawn (``0, ""`` while no
    cell layer is drawn). The stamp changes whenever the colours or cells change.
    """
    frames = page.locator(MAP_FRAME)
    if frames.count() <= index:
        return 0, ""
    container = page.frame_locator(MAP_FRAME).nth(index).locator(".leaflet-container")
    if container.count() == 0:
        return 0, ""
    cells = container.first.get_attribute("data-xingtu-cells", timeout=5_000)
    drawn = container.first.get_attribute("data-xingtu-drawn", timeout=5_000)
    return int(cells or 0), drawn or ""


def wait_for_map(page: Any, *, changed_from: str | None = None, index: int = 0,
                 timeout: float = 120.0, poll: float = 0.02) -> tuple[int, str]:
    """Wait until the map shows cells (and a stamp other than ``changed_from``); return its state."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            cells, stamp = map_state(page, index)
        except Exception:  # the iframe is being replaced: try again
            cells, stamp = 0, ""
        if cells > 0 and (changed_from is None or stamp != changed_from):
            return cells, stamp
        if time.monotonic() > deadline:
            raise TimeoutError(f"the map did not update within {timeout:.0f} s")
        time.sleep(poll)


def wait_until_idle(page: Any, timeout: float = 120.0) -> None:
    """Wait until the app's script has finished running (Streamlit's own run state)."""
    page.wait_for_function(
        "() => { const app = document.querySelector('[data-testid=\"stApp\"]');"
        " return app && app.getAttribute('data-test-script-state') === 'notRunning'; }",
        timeout=timeout * 1000, polling=20)
