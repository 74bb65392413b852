"""How fast the app answers in a real browser on the demo region (25,089 cells).

Starts the app on localhost, drives Debian's headless Chromium with Playwright (every request
off localhost blocked, as in the end-to-end test) and times, from the user's action to the page
showing its answer:

* the Site selection page opening until its map of every cell is drawn;
* a weight change (one step of a slider) until the map shows the new colours;
* a change of N and of the service radius until the page has finished its rerun;
* a siting run, MCLP then p-median, from the click until the chosen sites are on the map (the
  run the click starts must have finished first: a repeated run's old answer is still shown);
* Battlefields and Repair shops opening until their map is drawn.

Each timing is the median of ``--repeat`` tries. The targets are 1 s for a redraw after a
weight, N or radius change, and 5 s for a siting run. The machine's load (``uptime``) is printed
beside the figures: the machine is shared, so record it with them. Compare in the same run:
the first draw of the page (cold: layers built, nothing cached) against a redraw.

Run::

    python bench/app_speed.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from xingtu import app_driver as drive

WATCH_RUNS = """() => {
    if (window.__xingtuRuns !== undefined) { return; }
    window.__xingtuRuns = 0;
    const app = document.querySelector('[data-testid="stApp"]');
    new MutationObserver(() => {
        if (app.getAttribute('data-test-script-state') === 'notRunning') { window.__xingtuRuns++; }
    }).observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
}"""


def _runs(page: Any) -> int:
    return int(page.evaluate("() => window.__xingtuRuns"))


def _after_rerun(page: Any, action: Callable[[], None], timeout: float = 120.0) -> float:
    """Seconds from ``action`` until the app has finished the rerun it starts."""
    page.evaluate(WATCH_RUNS)
    before = _runs(page)
    start = time.perf_counter()
    action()
    page.wait_for_function(f"() => window.__xingtuRuns > {before}", timeout=timeout * 1000,
                           polling=10)
    return time.perf_counter() - start


def _open(page: Any, url: str, heading: str) -> float:
    from playwright.sync_api import expect

    start = time.perf_counter()
    page.goto(url, wait_until="domcontentloaded")
    expect(page.get_by_role("heading", name=heading)).to_be_visible(timeout=120_000)
    drive.wait_for_map(page)
    return time.perf_counter() - start


def _weight_step(page: Any, key: str) -> float:
    """Seconds from one slider step until the map shows the new colours."""
    _, stamp = drive.wait_for_map(page)
    slider = page.locator('[data-testid="stSidebar"] input[type="range"]').first
    slider.focus()
    start = time.perf_counter()
    slider.press(key)
    drive.wait_for_map(page, changed_from=stamp)
    return time.perf_counter() - start


def _set_number(page: Any, label: str, value: str) -> float:
    box = page.get_by_label(label)

    def change() -> None:
        box.fill(value)
        box.press("Enter")

    return _after_rerun(page, change)


def _radius_step(page: Any, key: str) -> float:
    """Seconds from one step of the radius slider until the page has finished its rerun."""
    handle = page.locator('[data-testid="stSidebar"] [data-testid="stSlider"]').filter(
        has_text="Service radius").locator('input[type="range"]')
    handle.focus()
    return _after_rerun(page, lambda: handle.press(key))


def _siting_run(page: Any, model_label: str, n_sites: int) -> float:
    from playwright.sync_api import expect

    combo = page.get_by_role("combobox", name="Model", exact=True)
    if combo.input_value() != model_label:
        drive.wait_until_idle(page)
        options = drive.open_choices(page, "Model")
        _after_rerun(page, lambda: options.filter(has_text=model_label).first.click())
        expect(combo).to_have_value(model_label, timeout=30_000)
    # The answer of a previous run stays on screen until the new run replaces it: wait for the
    # rerun the click starts to finish (the solve runs in it) before looking for the answer.
    button = page.get_by_role("button", name="Run site selection")
    start = time.perf_counter()
    _after_rerun(page, button.click, timeout=180.0)
    expect(page.get_by_text(f"Done: {n_sites} new sites")).to_be_visible(timeout=180_000)
    frame = page.frame_locator(drive.MAP_FRAME).first
    expect(frame.locator(".xingtu-key").get_by_text("Chosen sites")).to_be_attached(timeout=120_000)
    expect(frame.locator(".xingtu-marker").first).to_be_attached(timeout=60_000)
    return time.perf_counter() - start


def measure(repeat: int) -> dict[str, list[float]]:
    """Run every timing ``repeat`` times; return the seconds of each try."""
    times: dict[str, list[float]] = {}

    def record(name: str, seconds: float) -> None:
        times.setdefault(name, []).append(seconds)
        print(f"  {name}: {seconds:.2f} s", flush=True)

    with tempfile.TemporaryDirectory() as folder, drive.serve_app(Path(folder)) as url, \
            drive.chromium() as browser:
        guard = drive.RequestGuard()
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        context.route("**/*", guard)
        page = context.new_page()
        record("Site selection opens, cold (map of every cell drawn)",
               _open(page, f"{url}/site_selection", "Site selection"))
        cells, _ = drive.wait_for_map(page)
        print(f"  ({cells:,} cells on the map)")
        for _ in range(repeat):
            record("Site selection opens again (cached layers)",
                   _open(page, f"{url}/site_selection", "Site selection"))
        for i in range(repeat):
            record("Weight change -> map redrawn", _weight_step(page, "ArrowRight"
                                                                 if i % 2 == 0 else "ArrowLeft"))
        for i in range(repeat):
            record("N change -> page rerun done", _set_number(page, "New stores (N)",
                                                               str(6 + i % 2)))
        _set_number(page, "New stores (N)", "5")
        for i in range(repeat):
            record("Radius change -> page rerun done",
                   _radius_step(page, "ArrowRight" if i % 2 == 0 else "ArrowLeft"))
        for _ in range(repeat):
            record("MCLP run -> sites on the map",
                   _siting_run(page, "Maximal coverage (MCLP)", 5))
        for _ in range(repeat):
            record("p-median run -> sites on the map",
                   _siting_run(page, "Closest to demand (p-median)", 5))
        record("Battlefields opens (map drawn)", _open(page, f"{url}/", "Battlefields"))
        record("Repair shops opens (map drawn)", _open(page, f"{url}/repair_shops",
                                                       "Repair shops"))
        context.close()
        if guard.outside:
            raise RuntimeError(f"requests left localhost: {sorted(set(guard.outside))}")
    return times


def main() -> None:
    """Print the median of each timing and the machine's load."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"load before: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} "
          f"{os.getloadavg()[2]:.2f} on {os.cpu_count()} cores")
    times = measure(args.repeat)
    load = os.getloadavg()
    print(f"\nload after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores")
    targets = {"Weight change": 1.0, "N change": 1.0, "Radius change": 1.0, "MCLP": 5.0,
               "p-median": 5.0}
    print(f"{'what':<58}{'median s':>9}{'min s':>8}{'target':>8}")
    for name, values in times.items():
        target = next((f"{t:g} s" for prefix, t in targets.items() if name.startswith(prefix)),
                      "")
        print(f"{name:<58}{statistics.median(values):>9.2f}{min(values):>8.2f}{target:>8}")


if __name__ == "__main__":
    main()
