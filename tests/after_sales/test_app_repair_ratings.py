"""The Repair shops page shows grades, reasons and flagged claims, and sites with them."""

from __future__ import annotations

import atexit
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # the app's pages import app_pages.common, as under `streamlit run`

from streamlit.testing.v1 import AppTest  # noqa: E402
from streamlit.testing.v1 import app_test as _app_test  # noqa: E402

atexit.register(_app_test.TMP_DIR.cleanup)


@pytest.fixture(autouse=True)
def db_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'app.sqlite'}"
    monkeypatch.setenv("XINGTU_DATABASE_URL", url)
    return url


@pytest.mark.slow
def test_repair_page_shows_grades_flags_and_sites_with_them(demo_repairs) -> None:
    at = AppTest.from_file(str(ROOT / "app_pages" / "repair_shops.py"), default_timeout=240)
    at.run()
    assert not at.exception
    ratings = at.dataframe[0].value
    assert {"shop_id", "rating", "grade", "reasons", "given_rating"} <= set(ratings.columns)
    assert len(ratings) == 40
    flagged = at.dataframe[1].value
    assert set(flagged["shop_id"].head(3)) == set(demo_repairs.planted_shops.values())
    assert len(at.dataframe[2].value) > 100  # the flagged claims
    at.number_input(key="rs_n").set_value(3)
    at.button(key="rs_run").click().run()
    assert not at.exception and not at.error
    assert len(at.dataframe[0].value) == 3  # the new shops come first
    assert any("Ratings computed from repair records" in t.value for t in at.text)
    at.toggle(key="rs_records").set_value(False).run()
    assert not at.exception
    assert any("Ratings as given" in c.value for c in at.caption)
