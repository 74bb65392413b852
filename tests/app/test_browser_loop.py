"""The expansion team's decision loop, walked in a real headless Chromium, offline.

One browser session on the demo region, every request off localhost blocked and recorded:

1. run a site selection; reject one chosen site in the field survey and rerun: it is not
   chosen again;
2. approve another one and rerun with fewer sites: it stays;
3. upload a candidate list (a CSV of towns) and run on it: every site is a candidate (or the
   approved one);
4. pick the top battlefield on the Battlefields page and site only there: the run says it was
   restricted, and the downloaded sites all lie in one prefecture;
5. click a point on the map for its cell, and type coordinates for the what-if of a new store
   there: expected sales in CNY and its catchment drawn on a second map;
6. save three scenarios and compare all three on the Scenarios page: each with its
   settings, and the Difference column marking the settings that differ;
7. download the sites as GeoJSON, Excel, GeoPackage and the site report and read them.

The chosen sites are read from the field-survey form, whose choices are the sites of the run
on screen.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from geodata import grid
from xingtu import app_driver as drive
from xingtu.app_driver import CHROMIUM, MAP_FRAME, RequestGuard, wait_for_map, wait_until_idle

pytestmark = [pytest.mark.browser, pytest.mark.slow]

if not CHROMIUM.exists() and not os.environ.get("CI"):
    pytest.skip("Chromium is not installed (run `make browser`); in CI this test fails instead",
                allow_module_level=True)

RESOLUTION = 8
"""H3 resolution of the app's grid (``optimizer.settings``)."""


def test_the_decision_loop_runs_offline_in_one_browser_session(app_url: str, browser: Any,
                                                               tmp_path: Path) -> None:
    from playwright.sync_api import expect

    guard = RequestGuard()
    context = browser.new_context(viewport={"width": 1400, "height": 1100}, accept_downloads=True)
    context.route("**/*", guard)
    page = context.new_page()
    no_error = page.locator('[data-testid="stException"]')
    try:
        # 1. a free run, then a rejected site is never chosen again
        page.goto(f"{app_url}/site_selection", wait_until="domcontentloaded")
        expect(page.get_by_role("button", name="Run site selection")).to_be_visible(
            timeout=120_000)
        wait_for_map(page)
        drive.run_site_selection(page, 5)
        first = drive.chosen_sites(page)
        assert len(first) == 5
        drive.save_scenario(page, "free-run")
        rejected, approved = first[0], first[1]
        drive.record_survey(page, rejected, "rejected", "landlord refused")
        frame = page.frame_locator(MAP_FRAME).first
        expect(frame.locator(".xingtu-key").get_by_text("Survey: rejected")).to_be_attached(
            timeout=60_000)
        drive.run_site_selection(page, 5)
        second = drive.chosen_sites(page)
        assert rejected not in second, "a rejected site was chosen again"
        expect(page.get_by_text("1 rejected site left out.").first).to_be_attached()

        # 2. an approved site stays open, even in a smaller run
        drive.record_survey(page, approved, "approved", "signed")
        drive.set_number(page, "New stores (N)", 3)
        drive.run_site_selection(page, 3)
        third = drive.chosen_sites(page)
        assert approved in third and rejected not in third, third
        assert no_error.count() == 0

        # 3. the team's own candidate list: the run chooses only from it
        places = pd.read_csv(Path(__file__).resolve().parents[2] / "geodata" / "data"
                             / "prd_places.csv").nlargest(15, "population")
        candidates_csv = tmp_path / "shops_on_offer.csv"
        places[["lat", "lng"]].to_csv(candidates_csv, index=False)
        offered = set(grid.cells_to_str(grid.points_to_cells(
            places["lat"].to_numpy(float), places["lng"].to_numpy(float), RESOLUTION)))
        page.locator('[data-testid="stSidebar"] [data-testid="stFileUploaderDropzoneInput"]') \
            .set_input_files(str(candidates_csv))
        expect(page.get_by_text("Choose only from my 15 candidates")).to_be_visible(
            timeout=60_000)
        wait_until_idle(page)
        drive.run_site_selection(page, 3)
        on_list = drive.chosen_sites(page)
        assert set(on_list) - {approved} <= offered, (on_list, offered)
        assert len(set(on_list) - {approved}) == 2
        drive.save_scenario(page, "candidate-list")

        # 4. restricted to the top battlefield
        drive.open_page(page, "Battlefields", "Battlefields")
        # The confirmation, or the kept note a later rerun shows instead (the map's first
        # answer may rerun the page); a click the app took while it was rerunning is tried once
        # more.
        confirmed = page.get_by_text(re.compile(
            r"The next run on Site selection sites only in|for the next siting run:"))
        for attempt in range(2):
            wait_until_idle(page)
            page.get_by_role("button", name="Site in these areas").click()
            try:
                expect(confirmed.first).to_be_visible(timeout=30_000)
                break
            except AssertionError:
                if attempt:
                    raise
        drive.open_page(page, "Site selection", "Site selection")
        use_list = page.get_by_text("Choose only from my 15 candidates")
        if use_list.count():  # the list is kept across pages: back to every cell
            use_list.click()
            wait_until_idle(page)
        where = page.get_by_role("combobox", name="Site only in", exact=True)
        if not where.input_value().startswith("Battlefields:"):
            drive.open_choices(page, "Site only in").filter(has_text="Battlefields:").first.click()
            wait_until_idle(page)
        assert where.input_value().startswith("Battlefields:")
        drive.set_number(page, "New stores (N)", 3)
        drive.run_site_selection(page, 3)
        expect(page.get_by_text("New sites restricted to").first).to_be_attached()
        in_battlefield = drive.chosen_sites(page)
        assert len(in_battlefield) == 3 and rejected not in in_battlefield
        drive.save_scenario(page, "battlefield")
        assert no_error.count() == 0

        # 5. a click on the map selects its cell; the what-if of typed coordinates
        shenzhen = places.set_index("name").loc["Shenzhen"]
        map_frame = page.frame_locator(MAP_FRAME).first
        point = page.locator(MAP_FRAME).first.element_handle().content_frame().evaluate(
            "([lat, lng]) => { const m = window.map; m.setView([lat, lng], 12, {animate: false});"
            " return m.latLngToContainerPoint([lat, lng]); }",
            [float(shenzhen["lat"]), float(shenzhen["lng"])])
        page.wait_for_timeout(500)
        map_frame.locator(".leaflet-container").click(position={"x": point["x"], "y": point["y"]})
        clicked = grid.cells_to_str(grid.points_to_cells(np.array([shenzhen["lat"]]),
                                                         np.array([shenzhen["lng"]]), RESOLUTION))[0]
        expect(page.get_by_text(f"Cell {clicked}", exact=True)).to_be_visible(timeout=60_000)
        wait_until_idle(page)
        page.get_by_text("What if we open a store here?").click()
        page.get_by_label("Latitude").fill(f"{shenzhen['lat']:.5f}")
        page.get_by_label("Longitude").fill(f"{shenzhen['lng']:.5f}")
        page.get_by_label("Longitude").press("Enter")
        wait_until_idle(page)
        page.get_by_role("button", name="What if here?").click()
        expect(page.get_by_text("Taken from own stores").first).to_be_visible(timeout=60_000)
        sales = page.locator('[data-testid="stMetric"]').filter(has_text="Expected sales").first
        assert sales.inner_text().strip().endswith("CNY")
        cells_drawn, _ = wait_for_map(page, index=1)
        assert cells_drawn > 10, "the catchment was not drawn"
        assert no_error.count() == 0

        # 6. the three saved scenarios compared side by side
        drive.open_page(page, "Scenarios", "Scenarios")
        saved = ["free-run", "candidate-list", "battlefield"]
        listing = page.locator('[data-testid="stDataFrame"]').first
        for name in saved:
            expect(listing.get_by_text(name, exact=True)).to_be_attached(timeout=30_000)
        expect(page.get_by_role("heading", name="Side by side")).to_be_visible(timeout=60_000)
        drive.compare_scenarios(page, saved)
        side_by_side = drive.shown_table(page, 1).set_index("")
        columns = [f"{name} v1" for name in reversed(saved)]  # the newest first
        assert side_by_side.columns.tolist() == [*columns, "Difference"]
        rows = side_by_side.loc[:, columns]
        assert rows.loc["New stores (N)"].tolist() == ["3", "3", "5"]
        assert rows.loc["Model"].nunique() == 1
        assert rows.loc["Made on"].tolist() == ["the data in use now"] * 3
        assert rows.loc["Site only in"].iloc[0].startswith("Battlefields:")
        assert rows.loc["Site only in"].iloc[1:].tolist() == ["Everywhere"] * 2
        assert rows.loc["Candidate list"].iloc[1].startswith("15 sites (")
        assert rows.loc["Candidate list"].iloc[[0, 2]].tolist() == ["–", "–"]
        difference = side_by_side["Difference"]
        for setting in ("New stores (N)", "Site only in", "Candidate list"):
            assert difference[setting] == "differs", setting
        for setting in ("Model", "Made on", "Service radius (km)"):
            assert difference[setting] == "", setting
        markers = page.frame_locator(MAP_FRAME).first.locator(".xingtu-key")
        for column in columns:  # one marker per scenario in the map key
            expect(markers.get_by_text(column, exact=True)).to_be_attached(timeout=60_000)

        # 7. downloads of the first scenario's sites
        downloads = {}
        for label, suffix in (("Download sites (GeoJSON)", ".geojson"),
                              ("Download sites (Excel)", ".xlsx"),
                              ("Download sites (GeoPackage)", ".gpkg"),
                              ("Download the site report (HTML)", ".html")):
            with page.expect_download(timeout=60_000) as info:
                page.get_by_role("button", name=label).click()
            path = tmp_path / info.value.suggested_filename
            info.value.save_as(path)
            assert path.suffix == suffix
            downloads[suffix] = path
        features = json.loads(downloads[".geojson"].read_text())["features"]
        assert len(features) >= 3
        assert downloads[".xlsx"].read_bytes()[:2] == b"PK"
        assert len(pd.read_excel(downloads[".xlsx"])) == len(features)
        assert len(gpd.read_file(downloads[".gpkg"], layer="sites")) == len(features)
        report = downloads[".html"].read_text(encoding="utf-8")
        assert report.count('<circle class="site"') == len(features)
        assert "http://" not in report and "https://" not in report
        assert no_error.count() == 0
    finally:
        context.close()
    assert guard.outside == [], f"requests left localhost: {sorted(set(guard.outside))}"
