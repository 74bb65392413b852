"""Warnings a planner sees in the app (Streamlit AppTest): uploads and runs that were accepted
with a documented fallback or a suspicious value show the warning in plain view on the page.
"""

from __future__ import annotations

from functools import partial

import pandas as pd
import pytest

from tests.app.conftest import app_page

pytestmark = pytest.mark.usefixtures("db_url")  # each test on a database of its own
TIMEOUT = 240
_page = partial(app_page, timeout=TIMEOUT)


def test_an_upload_with_an_extreme_count_is_used_with_its_warning_shown() -> None:
    at = _page("upload").run()
    at.selectbox(key="upload_kind").set_value("footfall").run()
    counts = b"lat,lng,count\n22.50,114.00,30\n22.60,114.10,20\n22.70,114.20,5000000\n"
    at.get("file_uploader")[0].upload("footfall.csv", counts, "text/csv")
    at.run()
    assert not at.exception and not at.error
    assert len(at.session_state["uploads"]["footfall"]) == 3  # accepted, kept as it is
    assert [w.value for w in at.warning] == [
        "footfall.csv, column `count`, row 3: 5,000,000 is more than 1000 times the column's "
        "median (30); kept as it is. Check it if it is not a real extreme."]


@pytest.mark.slow
def test_a_week_planned_from_stale_history_and_skus_without_margin_shows_both_warnings(
        demo_region) -> None:
    at = _page("allocation")
    skus = pd.DataFrame(demo_region.skus).drop(columns=["margin"])
    at.session_state["uploads"] = {"skus": skus}
    at.run()
    last_sale = pd.Timestamp(demo_region.sales["date"].max())
    week = f"{last_sale.year + 3}-W10"
    at.text_input(key="al_week").set_value(week)
    at.slider(key="al_time_limit").set_value(5)
    at.button(key="al_run").click().run()
    assert not at.exception and not at.error
    shown = [w.value for w in at.warning]
    assert any(text.startswith("skus: no `margin` column; assumed margin = 0.2") for text in shown)
    assert any(f"weeks before week {week}; the forecast repeats that old history" in text
               for text in shown)
    assert len(shown) == len(set(shown)) == 2  # each once, and nothing else

    at.text_input(key="al_week").set_value(week).run()  # any rerun keeps them in view
    assert sorted(w.value for w in at.warning) == sorted(shown)
