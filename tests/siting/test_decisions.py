"""Survey statuses, candidate lists, exclusion areas and restrictions reach the siting models
through the library API (run_site_selection(decisions=...)).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from optimizer.calibration import Calibration
from optimizer.decisions import NOT_SURVEYED, SitingDecisions, cell_ids, snap_points_to_rows
from optimizer.errors import InputError
from optimizer.siting import run_site_selection

CAL = Calibration(alpha=1.0, beta=2.0, demand_weights={"population": 10.0}, used_defaults=True,
                  cutoff_km=10.0, message="test model")


def _region(n: int = 80, seed: int = 3) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    cells = pd.Index(np.arange(n, dtype=np.uint64) + np.uint64(617700169958293503), name="cell")
    layers = pd.DataFrame({
        "lat": 22.5 + rng.uniform(0, 0.15, n), "lng": 114.0 + rng.uniform(0, 0.15, n),
        "region": np.where(rng.uniform(size=n) < 0.5, "Futian", "Nanshan"),
        "population": rng.gamma(2, 1000, n), "footfall": rng.gamma(1, 500, n),
        "fan_index": rng.uniform(0, 0.05, n), "competitors_nearby": rng.integers(0, 5, n) * 1.0,
        "poi_diversity": rng.uniform(0, 2, n), "avg_ticket": rng.uniform(800, 2500, n),
        "own_store_count": np.zeros(n)}, index=cells)
    layers.iloc[[0, 1], layers.columns.get_loc("own_store_count")] = 1.0
    stores = pd.DataFrame({"store_id": ["S1", "S2"], "lat": layers["lat"].iloc[:2].to_numpy(),
                           "lng": layers["lng"].iloc[:2].to_numpy(),
                           "floor_area_m2": [200.0, 300.0]})
    competitors = pd.DataFrame({"lat": 22.5 + rng.uniform(0, 0.15, 4),
                                "lng": 114.0 + rng.uniform(0, 0.15, 4),
                                "floor_area_m2": rng.uniform(100, 400, 4)})
    return layers, stores, competitors


def _run(layers, stores, competitors, decisions=None, **options):
    settings = {"n_new": 3, "radius_km": 2.0, "calibration": CAL, "model": "mclp"} | options
    return run_site_selection(layers, stores, competitors, decisions=decisions, **settings)


def _survey(**statuses: str) -> pd.DataFrame:
    """A survey table shaped like Database.survey_statuses() (hexadecimal site ids)."""
    return pd.DataFrame({"site_id": [format(int(c), "x") for c in statuses.values()],
                         "status": list(statuses), "note": "", "user": "li",
                         "updated_at": pd.Timestamp("2026-01-05")})


@pytest.mark.parametrize("model", ["mclp", "p_median"])
def test_rejected_site_is_not_chosen_again(model: str) -> None:
    layers, stores, competitors = _region()
    first = _run(layers, stores, competitors, model=model)
    rejected = first.sites["cell"].iloc[0]
    table = pd.DataFrame({"site_id": [format(int(rejected), "x")], "status": ["rejected"]})
    again = _run(layers, stores, competitors, SitingDecisions.from_survey(table), model=model)
    assert rejected not in set(again.sites["cell"])
    assert len(again.sites) == 3 and again.status == "optimal"
    assert again.decisions is not None
    assert again.decisions.rejected_removed.tolist() == [rejected]
    assert set(again.sites["survey_status"]) == {NOT_SURVEYED}


def test_latest_status_counts_and_history_is_accepted() -> None:
    layers, stores, competitors = _region()
    first = _run(layers, stores, competitors)
    cell = format(int(first.sites["cell"].iloc[0]), "x")
    history = pd.DataFrame({"site_id": [cell, cell], "status": ["rejected", "surveyed"]})
    again = _run(layers, stores, competitors, SitingDecisions.from_survey(history))
    assert first.sites["cell"].iloc[0] in set(again.sites["cell"])  # surveyed now, not rejected
    status = dict(zip(again.sites["cell"], again.sites["survey_status"], strict=True))
    assert status[first.sites["cell"].iloc[0]] == "surveyed"


def test_approved_site_stays_open_and_counts_as_opened() -> None:
    layers, stores, competitors = _region()
    first = _run(layers, stores, competitors)
    free = layers.index[layers["own_store_count"] == 0]
    unchosen = [c for c in free if c not in set(first.sites["cell"])]
    approved = unchosen[-1]  # a site the unconstrained run does not choose
    decisions = SitingDecisions.from_survey(pd.DataFrame({"site_id": [format(int(approved), "x")],
                                                         "status": ["approved"]}))
    for model in ("mclp", "p_median", "market_share"):
        run = _run(layers, stores, competitors, decisions, model=model, max_candidates=12)
        assert approved in set(run.sites["cell"]), model
        assert len(run.sites) == 3, model  # the approved site is one of the 3 new sites
        row = run.sites.set_index("cell").loc[approved]
        assert row["survey_status"] == "approved"
    # Forcing a site open cannot do better than the free optimum.
    forced = _run(layers, stores, competitors, decisions)
    assert forced.report.objective <= first.report.objective + 1e-6


def test_approved_sites_beyond_n_new_are_refused() -> None:
    layers, stores, competitors = _region()
    decisions = SitingDecisions().with_status(layers.index[10:14], "approved")
    with pytest.raises(InputError, match="raise `n_new` to at least 4"):
        _run(layers, stores, competitors, decisions)


def test_run_on_a_candidate_list_chooses_only_from_it() -> None:
    layers, stores, competitors = _region()
    first = _run(layers, stores, competitors)
    own_list = [c for c in layers.index[2:] if c not in set(first.sites["cell"])][::7][:6]
    run = _run(layers, stores, competitors, SitingDecisions(candidates=own_list))
    assert set(run.sites["cell"]) <= set(own_list)
    assert run.decisions is not None and run.decisions.candidate_list == len(own_list)
    # The same list as hexadecimal strings and as points near the cell centres.
    as_text = _run(layers, stores, competitors,
                   SitingDecisions(candidates=[format(int(c), "x") for c in own_list]))
    assert as_text.sites["cell"].tolist() == run.sites["cell"].tolist()
    lat = layers.loc[own_list, "lat"].to_numpy() + 1e-4
    lng = layers.loc[own_list, "lng"].to_numpy() - 1e-4
    by_points = _run(layers, stores, competitors, SitingDecisions(candidate_points=(lat, lng)))
    assert sorted(by_points.sites["cell"]) == sorted(run.sites["cell"])


def test_candidate_list_minus_rejected() -> None:
    layers, stores, competitors = _region()
    own_list = list(layers.index[20:24])
    decisions = SitingDecisions(candidates=own_list).with_status(own_list[:2], "rejected")
    run = _run(layers, stores, competitors, decisions, n_new=2)
    assert sorted(run.sites["cell"]) == sorted(own_list[2:])


def test_exclusion_and_region_restriction() -> None:
    layers, stores, competitors = _region()
    first = _run(layers, stores, competitors)
    excluded = first.sites["cell"].tolist()
    run = _run(layers, stores, competitors, SitingDecisions(excluded=excluded))
    assert not set(run.sites["cell"]) & set(excluded)
    assert run.decisions is not None and run.decisions.excluded_cells == 3
    in_nanshan = _run(layers, stores, competitors, SitingDecisions(regions=["Nanshan"]))
    assert set(layers.loc[in_nanshan.sites["cell"], "region"]) == {"Nanshan"}


def test_restriction_to_battlefield_cells() -> None:
    layers, stores, competitors = _region()
    first = _run(layers, stores, competitors)
    north = layers.index[layers["lat"] > 22.58]
    # The unconstrained run goes elsewhere too, so the restriction is binding.
    assert not set(first.sites["cell"]) <= set(north)
    run = _run(layers, stores, competitors, SitingDecisions(within=north))
    assert set(run.sites["cell"]) <= set(north)
    assert run.decisions is not None and run.decisions.restricted_cells == len(north)


def test_approved_outside_the_restriction_is_kept_and_reported() -> None:
    layers, stores, competitors = _region()
    south = layers.index[layers["lat"] <= 22.58]
    north = layers.index[layers["lat"] > 22.58]
    decisions = SitingDecisions(within=north).with_status([south[-1]], "approved")
    run = _run(layers, stores, competitors, decisions)
    assert south[-1] in set(run.sites["cell"])
    assert set(run.sites["cell"]) - {south[-1]} <= set(north)
    assert run.decisions is not None and run.decisions.approved_outside.tolist() == [south[-1]]
    assert "outside the chosen areas" in run.decisions.summary()


def test_unknown_ids_are_reported_not_applied() -> None:
    layers, stores, competitors = _region()
    table = pd.DataFrame({"site_id": ["S17", "8f2830828052d25"], "status": ["rejected"] * 2})
    run = _run(layers, stores, competitors, SitingDecisions.from_survey(table))
    assert run.decisions is not None and len(run.decisions.unmatched) == 2


def test_bad_decisions_say_the_fix() -> None:
    layers, stores, competitors = _region()
    with pytest.raises(InputError, match="use one of candidate"):
        SitingDecisions.from_survey(pd.DataFrame({"site_id": ["a"], "status": ["maybe"]}))
    with pytest.raises(InputError, match="no column"):
        SitingDecisions.from_survey(pd.DataFrame({"cell": ["a"]}))
    with pytest.raises(InputError, match="not regions"):
        _run(layers, stores, competitors, SitingDecisions(regions=["Luohu"]))
    with pytest.raises(InputError, match="candidate point 2 .* outside the region"):
        snap_points_to_rows(layers, np.array([22.55, 30.0]), np.array([114.05, 114.05]))
    with pytest.raises(InputError, match="item 2"):
        cell_ids(["881f1d4a8bfffff", "not a cell"])
    with pytest.raises(InputError, match="No candidate site is left"):
        _run(layers, stores, competitors, SitingDecisions(excluded=layers.index))


def test_statuses_saved_in_the_database_reach_the_model() -> None:
    from xingtu.database import Database

    layers, stores, competitors = _region()
    first = _run(layers, stores, competitors)
    database = Database("sqlite://")
    chosen = [format(int(c), "x") for c in first.sites["cell"]]
    database.set_survey_status(chosen[0], "surveyed", user="li")
    database.set_survey_status(chosen[0], "rejected", note="no parking", user="li")
    database.set_survey_status(chosen[1], "approved", note="corner unit", user="wang")
    database.set_survey_status(chosen[2], "surveyed", user="li")
    run = _run(layers, stores, competitors,
               SitingDecisions.from_survey(database.survey_statuses()))
    status = dict(zip(run.sites["cell"], run.sites["survey_status"], strict=True))
    assert first.sites["cell"].iloc[0] not in status
    assert status[first.sites["cell"].iloc[1]] == "approved"
    assert len(run.sites) == 3
    history = SitingDecisions.from_survey(database.survey_statuses(history=True))
    assert history.rejected.tolist() == [first.sites["cell"].iloc[0]]
