"""Screenshots of each page of the app on the demo region, for docs/app.md (``docs/img/``).

Serves the app on localhost with a fresh database, drives Debian's headless Chromium (every
request off localhost blocked: the pictures show the app as it runs offline) and walks a short
session so that each page shows its results: a site selection with one site rejected and one
approved in the field survey, three saved scenarios compared side by side, the Battlefields
ranking, next week's allocation, a repair-shop siting and the Upload page. Each picture frames the page's map, with
its legend, map key and place names.

Run::

    python bench/screenshots.py [--out docs/img]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

from xingtu import app_driver as drive

OUT = Path(__file__).resolve().parents[1] / "docs" / "img"


def _shoot(page: Any, path: Path, *, frame_map: bool = True, cells: bool = True,
           top: str | None = None, height: int | None = None) -> None:
    """Save the viewport with the page's map in view (the title above it when it fits).

    ``top`` names a heading to put at the top of the picture instead (with a viewport
    ``height`` pixels tall, to show what lies between it and the map).
    """
    size = page.viewport_size
    if height is not None:
        page.set_viewport_size({"width": size["width"], "height": height})
        drive.wait_until_idle(page)
    if frame_map and page.locator(drive.MAP_FRAME).count():
        if cells:
            drive.wait_for_map(page)
        else:  # a map of points only
            page.frame_locator(drive.MAP_FRAME).first.locator(".xingtu-marker").first.wait_for(
                timeout=60_000)
        page.locator(drive.MAP_FRAME).first.scroll_into_view_if_needed()
        page.evaluate("() => window.scrollBy(0, -120)")
        page.mouse.move(5, 5)
    if top is not None:
        page.get_by_role("heading", name=top).evaluate(
            "e => e.scrollIntoView({block: 'start'})")
    page.wait_for_timeout(1500)  # tooltips gone, the last layers drawn
    page.screenshot(path=str(path))
    if height is not None:
        page.set_viewport_size(size)
    print(f"wrote {path}")


def take(out: Path) -> list[Path]:
    """Walk the app and save one picture per page into ``out``; return the files."""
    from playwright.sync_api import expect

    out.mkdir(parents=True, exist_ok=True)
    shots: list[Path] = []
    with tempfile.TemporaryDirectory() as folder, drive.serve_app(Path(folder)) as url, \
            drive.chromium() as browser:
        guard = drive.RequestGuard()
        context = browser.new_context(viewport={"width": 1500, "height": 1050})
        context.route("**/*", guard)
        page = context.new_page()
        page.goto(f"{url}/site_selection", wait_until="domcontentloaded")
        drive.wait_for_map(page)
        drive.run_site_selection(page, 5)
        first = drive.chosen_sites(page)
        drive.save_scenario(page, "five-sites")
        drive.record_survey(page, first[0], "rejected", "landlord refused")
        drive.record_survey(page, first[1], "approved", "signed")
        drive.record_survey(page, first[2], "surveyed", "footfall counted")
        drive.set_number(page, "New stores (N)", 3)
        drive.run_site_selection(page, 3)
        drive.save_scenario(page, "three-sites")
        drive.set_number(page, "New stores (N)", 7)
        drive.run_site_selection(page, 7)
        drive.save_scenario(page, "seven-sites")
        shots.append(out / "site_selection.png")
        _shoot(page, shots[-1])

        drive.open_page(page, "Battlefields", "Battlefields")
        shots.append(out / "battlefields.png")
        _shoot(page, shots[-1])

        drive.open_page(page, "Scenarios", "Scenarios")
        expect(page.get_by_role("heading", name="Side by side")).to_be_visible(timeout=60_000)
        shots.append(out / "scenarios.png")
        _shoot(page, shots[-1], cells=False, top="Side by side", height=1600)

        drive.open_page(page, "Allocation", "Weekly allocation")
        page.get_by_role("button", name="Run next week's plan").click()
        expect(page.get_by_text("Expected stockouts after")).to_be_visible(timeout=180_000)
        drive.wait_until_idle(page)
        shots.append(out / "allocation.png")
        _shoot(page, shots[-1], cells=False)

        drive.open_page(page, "Repair shops", "Repair shops")
        page.get_by_role("button", name="Run repair-shop siting").click()
        expect(page.get_by_text("Covered by a good shop")).to_be_visible(timeout=120_000)
        drive.wait_until_idle(page)
        shots.append(out / "repair_shops.png")
        _shoot(page, shots[-1])

        drive.open_page(page, "Upload your data", "Upload your data")
        shots.append(out / "upload.png")
        _shoot(page, shots[-1], frame_map=False)
        context.close()
    if guard.outside:
        raise RuntimeError(f"requests left localhost: {sorted(set(guard.outside))}")
    return shots


def main() -> None:
    """Take the screenshots."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    take(parser.parse_args().out)


if __name__ == "__main__":
    main()
