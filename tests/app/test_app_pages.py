"""App pages (Streamlit AppTest): navigation, battlefields, repair shops, uploads with errors."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from tests.app.conftest import ROOT, app_page

pytestmark = pytest.mark.usefixtures("db_url")  # each test on a database of its own
TIMEOUT = 180
_page = partial(app_page, timeout=TIMEOUT)


def test_no_page_draws_a_stray_string() -> None:
    """Streamlit draws a page's bare strings (magic): only the module docstring may be one."""
    import ast
    import re

    shown = re.findall(r'st\.Page\("(app_pages/\w+\.py)"', (ROOT / "app.py").read_text())
    assert len(shown) >= 6, shown  # the pages app.py lists
    stray = []
    for name in shown:
        tree = ast.parse((ROOT / name).read_text())
        stray += [f"{name}:{node.lineno}" for node in tree.body[1:]
                  if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)]
    assert stray == []


def test_app_routes_to_the_battlefields_page_first() -> None:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run()
    assert not at.exception
    assert at.title[0].value == "Battlefields"
    at.switch_page("app_pages/upload.py").run()
    assert not at.exception
    assert at.title[0].value == "Upload your data"


@pytest.mark.slow
def test_battlefields_show_the_library_ranking(demo_region) -> None:
    from geodata.areas import cells_to_districts
    from geodata.demo import build_layers, load_places
    from optimizer.scoring import battlefield_ranking

    at = _page("battlefields").run()
    assert not at.exception and not at.error
    at.slider(key="bf_w_ticket").set_value(0.0)
    at.slider(key="bf_radius").set_value(5.0).run()
    assert not at.exception
    shown = at.dataframe[0].value
    layers = build_layers(demo_region)
    weights = {"fan_index": 1.0, "avg_ticket": 0.0, "whitespace_rate": 1.0,
               "competitor_pressure": -1.0}
    expected = battlefield_ranking(layers, areas=cells_to_districts(layers, load_places()),
                                   radius_km=5.0, weights=weights, places=load_places()).table
    assert shown.index.tolist() == expected.index.tolist()
    assert np.allclose(shown["whitespace_rate"], expected["whitespace_rate"])
    assert at.metric[0].value == str(expected["name"].iloc[0])
    assert (shown["population"] >= 20_000).all()  # small areas merged

    at.selectbox(key="bf_level").set_value("Prefecture (region)").run()
    regions = at.dataframe[0].value
    assert sorted(regions["name"]) == sorted(demo_region.regions)

    at.selectbox(key="bf_level").set_value("Large hexagons (H3 res 6, ~36 km²)").run()
    assert not at.exception
    hexagons = at.dataframe[0].value
    assert len(hexagons) > len(regions)
    assert hexagons.index.str.fullmatch(r"[0-9a-f]{15}").all()


@pytest.mark.slow
def test_battlefields_link_restricts_the_next_siting_run() -> None:
    at = _page("battlefields").run()
    at.selectbox(key="bf_level").set_value("Prefecture (region)").run()
    best = at.dataframe[0].value.index[0]
    assert at.multiselect(key="bf_pick_region").value == [best]
    at.button(key="bf_site").click().run()
    assert not at.exception
    chosen = at.session_state["siting_areas"]
    assert chosen["areas"] == [best] and len(chosen["cells"]) > 100
    assert any(best in s.value for s in at.success)


@pytest.mark.slow
def test_repair_shop_siting_respects_n_and_improves_coverage() -> None:
    at = _page("repair_shops").run()
    assert not at.exception
    assert any("Run repair-shop siting" in i.value for i in at.info)
    at.number_input(key="rs_n").set_value(3)
    at.slider(key="rs_rating").set_value(4.0)
    at.button(key="rs_run").click().run()
    assert not at.exception and not at.error
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["New shops"] == "3"
    assert float(metrics["Covered by a good shop"].rstrip("%")) > 0
    assert at.metric[0].delta.startswith("+")
    assert len(at.dataframe[0].value) == 3
    assert any(c.value.startswith("Solve: ") for c in at.caption)


def test_bad_upload_lists_every_problem_on_the_page() -> None:
    at = _page("upload").run()
    assert not at.exception
    at.selectbox(key="upload_kind").set_value("stores").run()
    bad = b"store_id,lat,lng\nS1,95.0,114.0\nS1,22.5,abc\n"
    at.get("file_uploader")[0].upload("my_stores.csv", bad, "text/csv")
    at.run()
    assert not at.exception  # shown on the page, never a traceback
    assert "my_stores.csv" in at.error[0].value and "problem" in at.error[0].value
    problems = at.dataframe[-1].value
    assert {"file", "column", "message", "fix"} <= set(problems.columns)
    assert len(problems) >= 2  # the bad latitude, the text longitude, the repeated id...
    assert set(problems["column"]) & {"lat", "lng", "store_id"}
    assert "uploads" not in at.session_state or not at.session_state["uploads"]


def test_good_upload_is_used_and_can_be_reset() -> None:
    at = _page("upload").run()
    at.selectbox(key="upload_kind").set_value("stores").run()
    good = b"store_id,lat,lng,floor_area_m2\nS1,22.54,114.06,200\nS2,23.13,113.26,150\n"
    at.get("file_uploader")[0].upload("stores.csv", good, "text/csv")
    at.run()
    assert not at.exception and not at.error
    assert "2 rows of stores" in at.success[0].value
    assert len(at.session_state["uploads"]["stores"]) == 2
    at.get("file_uploader")[0].set_value(None)
    at.button(key="upload_reset").click().run()
    assert not at.exception
    assert at.session_state["uploads"] == {}


def test_a_map_click_resolves_to_the_cell_under_it() -> None:
    from app_pages import common
    from geodata import grid

    lat, lng = 22.5431, 114.0579
    cell = common.clicked_cell({"last_object_clicked": {"lat": lat, "lng": lng}}, 8)
    assert cell == int(grid.points_to_cells(np.array([lat]), np.array([lng]), 8)[0])
    assert common.cell_text(cell) == grid.cells_to_str(np.array([cell], dtype=np.uint64))[0]
    assert common.clicked_cell({}, 8) is None
    assert common.clicked_cell({"last_object_clicked": None}, 8) is None


def test_pages_render_reports_with_the_one_summary_and_import_no_strings() -> None:
    from optimizer.results import SolveReport

    feasible = SolveReport("feasible", 105.0, 100.0, 0.0476, 12.3, "highs", "time limit")
    assert feasible.summary() == "Solve: feasible, objective 105, bound 100, gap 4.76%, 12.3 s."
    for page in (ROOT / "app_pages").glob("*.py"):
        text = page.read_text()
        assert "require(" not in text and "solve_report_line" not in text, page.name
        assert "f\"Solve:" not in text and "f\"Solver:" not in text, page.name
