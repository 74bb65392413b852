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


# ---- steps of the app's pages ------------------------------------------------------------


def run_site_selection(page: Any, n_sites: int) -> None:
    """Click Run site selection and wait for its answer of ``n_sites`` sites."""
    from playwright.sync_api import expect

    page.get_by_role("button", name="Run site selection").click()
    expect(page.get_by_text(f"Done: {n_sites} new sites")).to_be_visible(timeout=180_000)
    expect(page.get_by_text("Chosen sites and why")).to_be_visible(timeout=60_000)
    wait_until_idle(page)


def open_choices(page: Any, label: str) -> Any:
    """Open the drop-down of the select box ``label``; return its options."""
    combo = page.get_by_role("combobox", name=label, exact=True)
    options = page.get_by_role("option")
    for attempt in range(4):  # a rerun finishing may close the list just opened
        wait_until_idle(page)
        combo.click()
        try:
            options.first.wait_for(timeout=5_000)
            return options
        except Exception:
            if attempt == 3:
                raise
            page.keyboard.press("Escape")
    return options


def chosen_sites(page: Any) -> list[str]:
    """Return the cells of the run on screen: the choices of the survey form's Site box.

    A rerun that ends while the list is open closes it, so an empty read is retried.
    """
    cells: list[str] = []
    for _attempt in range(6):
        cells = [text.strip() for text in open_choices(page, "Site").all_inner_texts()]
        page.keyboard.press("Escape")
        if cells:
            break
        page.wait_for_timeout(1_000)
    return cells


def record_survey(page: Any, cell: str, status: str, note: str) -> None:
    """Record a field-survey status of a chosen site through the page's form."""
    from playwright.sync_api import expect

    form = page.locator('[data-testid="stForm"]')
    open_choices(page, "Site").filter(has_text=cell).first.click()
    open_choices(page, "Status").get_by_text(status, exact=True).click()
    form.get_by_label("Note").fill(note)
    form.get_by_label("Your name").fill("Field team")
    form.get_by_role("button", name="Save survey status").click()
    expect(page.get_by_text(f"Saved: {cell} is {status}")).to_be_visible(timeout=60_000)
    wait_until_idle(page)


def set_number(page: Any, label: str, n: float) -> None:
    """Type a number into the number box ``label`` and wait for the rerun."""
    from playwright.sync_api import expect

    box = page.get_by_label(label)
    box.fill(str(n))
    box.press("Enter")
    expect(box).to_have_value(str(n))
    wait_until_idle(page)


def save_scenario(page: Any, name: str) -> None:
    """Save the run on screen as a scenario ``name``."""
    from playwright.sync_api import expect

    name_box = page.get_by_label("Scenario name")
    for attempt in range(3):  # a rerun still finishing may put the previous value back
        name_box.fill(name)
        name_box.press("Enter")
        try:
            expect(name_box).to_have_value(name, timeout=5_000)
            break
        except AssertionError:
            if attempt == 2:
                raise
    page.get_by_role("button", name="Save scenario").click()
    expect(page.get_by_text(f"Saved as scenario {name}")).to_be_visible(timeout=60_000)
    wait_until_idle(page)


def open_page(page: Any, link: str, heading: str) -> None:
    """Go to another page through the sidebar link, keeping the session; wait for it."""
    from playwright.sync_api import expect

    page.get_by_role("link", name=link, exact=True).click()
    expect(page.get_by_role("heading", name=heading)).to_be_visible(timeout=90_000)
    wait_until_idle(page)


def shown_table(page: Any, index: int = 0) -> Any:
    """Return the ``index``-th table (``st.dataframe``) on the page as it shows it, as text.

    Read from the table the data grid keeps for screen readers (the rows in view), so a
    column header and each cell are the text a user sees.

    Returns
    -------
    pandas.DataFrame
        One column per header, one row per row shown.
    """
    import pandas as pd

    grid = page.locator('[data-testid="stDataFrame"]').nth(index).locator('table[role="grid"]')
    grid.wait_for(state="attached", timeout=60_000)
    header, rows = grid.evaluate(
        "t => [Array.from(t.querySelectorAll('thead th')).map(c => c.textContent),"
        " Array.from(t.querySelectorAll('tbody tr')).map("
        "r => Array.from(r.querySelectorAll('td')).map(c => c.textContent))]")
    return pd.DataFrame(rows, columns=header)


def compare_scenarios(page: Any, names: list[str]) -> None:
    """On the Scenarios page, add each scenario of ``names`` missing from the comparison.

    A scenario is named as saved; its latest version is meant (its choice reads
    ``name (v<version>, <date>)``).
    """
    from playwright.sync_api import expect

    chosen = page.locator('[data-testid="stMultiSelect"]').first
    for name in names:
        label = f"{name} (v"
        if label not in chosen.inner_text():
            open_choices(page, "Scenarios to compare").filter(has_text=label).first.click()
            page.keyboard.press("Escape")
            wait_until_idle(page)
        expect(chosen).to_contain_text(label, timeout=30_000)
    wait_until_idle(page)
