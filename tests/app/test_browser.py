"""End to end in a real headless Chromium: the app runs a site selection and draws the map offline.

Starts ``streamlit run app.py`` on a free localhost port, drives Debian's Chromium with Playwright
and blocks and records every request that leaves localhost. In one browser session it walks a new
user's day on the demo region: runs a site selection and checks the cells are drawn (counted by the
cell layer inside the map's iframe), with the legend, the map key and the place names, saves two scenarios with different N and compares them, plans
next week's allocation and opens the downloaded Excel workbook, and runs a repair-shop siting.
A screenshot is saved after each step; set ``XINGTU_SCREENSHOT=path.png`` to keep a copy of the
first one.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from xingtu.app_driver import (
    CHROMIUM,
    MAP_FRAME,
    RequestGuard,
    open_page,
    run_site_selection,
    save_scenario,
    wait_for_map,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

if not CHROMIUM.exists() and not os.environ.get("CI"):
    pytest.skip("Chromium is not installed (run `make browser`); in CI this test fails instead",
                allow_module_level=True)


def _shoot(page: Any, folder: Path, name: str) -> Path:
    shot = folder / f"{name}.png"
    page.screenshot(path=str(shot), full_page=False)
    assert shot.stat().st_size > 20_000, f"screenshot {name} looks blank"
    return shot


def test_daily_flow_runs_offline_in_one_browser_session(app_url: str, browser,
                                                       tmp_path: Path) -> None:
    """Site selection, two saved scenarios compared, next week's plan with its Excel file,
    and a repair-shop siting, all in one session, with every request kept on localhost.
    """
    import openpyxl
    import pandas as pd
    from playwright.sync_api import expect

    guard = RequestGuard()
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    context.route("**/*", guard)
    page = context.new_page()
    shots = tmp_path / "screenshots"
    shots.mkdir()
    no_error = page.locator('[data-testid="stException"]')
    try:
        # 1. site selection on the demo data draws the scored hexagons
        page.goto(f"{app_url}/site_selection", wait_until="domcontentloaded")
        run_site_selection(page, n_sites=5)
        frame = page.frame_locator(MAP_FRAME).first
        n_cells, _ = wait_for_map(page)
        assert n_cells > 20_000, f"only {n_cells} cells drawn on the map"
        page.wait_for_timeout(1000)  # let the last layers settle before counting and shooting
        # the cell legend and the map key of the point layers
        assert frame.locator(".xingtu-legend").count() == 2
        expect(frame.get_by_text("Map key")).to_be_attached()
        assert frame.locator(".xingtu-place").count() >= 8  # the cities' names
        assert no_error.count() == 0
        first_shot = _shoot(page, shots, "1_site_selection")
        keep = os.environ.get("XINGTU_SCREENSHOT")
        if keep:
            Path(keep).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(first_shot, keep)

        # 2. save it, change N, run and save again, then compare both on the Scenarios page
        save_scenario(page, "five-sites")
        n_box = page.get_by_label("New stores (N)")
        n_box.fill("7")
        n_box.press("Enter")
        expect(n_box).to_have_value("7")
        run_site_selection(page, n_sites=7)
        save_scenario(page, "seven-sites")
        assert no_error.count() == 0
        _shoot(page, shots, "2_second_scenario")

        open_page(page, "Scenarios", "Scenarios")
        expect(page.get_by_role("heading", name="Side by side")).to_be_visible(timeout=60_000)
        expect(page.get_by_text("One marker per scenario", exact=False)).to_be_visible()
        side_by_side = page.locator('[data-testid="stDataFrame"]').nth(1)
        for row in ("Sites in common", "Coverage after", "New sites", "New stores (N)"):
            expect(side_by_side.get_by_text(row, exact=True)).to_be_attached(timeout=30_000)
        chosen = page.locator('[data-testid="stMultiSelect"]').first.inner_text()
        assert "seven-sites" in chosen and "five-sites" in chosen, chosen
        sites = page.frame_locator(MAP_FRAME).first.locator(".xingtu-marker")
        expect(sites.first).to_be_attached(timeout=60_000)
        page.wait_for_timeout(1000)
        # 5 + 7 sites: every site of each scenario is drawn with that scenario's marker
        assert sites.count() == 12, f"{sites.count()} sites drawn for scenarios of 5 and 7"
        assert no_error.count() == 0
        _shoot(page, shots, "3_scenarios")

        # 3. next week's plan: KPIs and a real Excel workbook
        open_page(page, "Allocation", "Weekly allocation")
        page.get_by_role("button", name="Run next week's plan").click()
        expect(page.get_by_text("Expected stockouts after")).to_be_visible(timeout=180_000)
        expect(page.get_by_text("Transport cost")).to_be_visible()
        excel_button = page.get_by_role("button", name="Download Excel")
        expect(excel_button).to_be_visible(timeout=60_000)
        assert no_error.count() == 0
        _shoot(page, shots, "4_allocation")
        with page.expect_download(timeout=60_000) as download_info:
            excel_button.click()
        download = download_info.value
        assert re.fullmatch(r"plan-\d{4}-W\d{2}\.xlsx", download.suggested_filename), download.suggested_filename
        workbook_path = tmp_path / download.suggested_filename
        download.save_as(workbook_path)
        assert workbook_path.read_bytes()[:2] == b"PK"  # a zip container, not an error page
        assert openpyxl.load_workbook(workbook_path).sheetnames == [
            "Plan", "KPIs", "Warehouses", "Stores", "Demand guide", "Slow movers",
            "Fast and slow movers", "Stockout risk", "Supplier orders", "Returns",
            "Changes vs previous"]
        sheets = pd.read_excel(workbook_path, sheet_name=None)
        assert len(sheets["Plan"]) >= 1
        assert {"From", "To", "SKU", "Quantity"} <= set(sheets["Plan"].columns)
        assert (sheets["Plan"]["Quantity"] > 0).all()
        assert "expected_stockout_units_after" in set(sheets["KPIs"]["KPI"])

        # 4. repair shops: the siting runs and its coverage map draws
        open_page(page, "Repair shops", "Repair shops")
        page.get_by_role("button", name="Run repair-shop siting").click()
        expect(page.get_by_text("Covered by a good shop")).to_be_visible(timeout=120_000)
        repair_map = page.frame_locator(MAP_FRAME).first
        expect(repair_map.locator('[data-layer="Reach of new shops"]')).to_be_attached(timeout=60_000)
        n_cells, _ = wait_for_map(page)
        assert n_cells > 100
        assert repair_map.locator(".xingtu-marker").count() > 10  # shops and the new ones
        assert no_error.count() == 0
        _shoot(page, shots, "5_repair_shops")
    finally:
        context.close()

    assert len(list(shots.glob("*.png"))) == 5
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
                assert wait_for_map(page)[0] > 100, path
            assert page.locator('[data-testid="stException"]').count() == 0, path
    finally:
        context.close()
    assert guard.outside == [], f"requests left localhost: {sorted(set(guard.outside))}"
