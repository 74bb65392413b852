"""The Allocation page's map: warehouse radius and load classes, store risk classes, the key."""

from __future__ import annotations

import html
import json

import folium
import numpy as np
import pandas as pd
import pytest

from tests.allocation.planners_week import WEEK, tiny_plan
from xingtu import allocation_map as am
from xingtu.jobs import weekly


@pytest.fixture(scope="module")
def drawn():
    tables, plan = tiny_plan()
    record = weekly.make_record(plan, tables, label=WEEK, fingerprint="f")
    sheets = record.sheets()
    # A second warehouse far busier than the first, to see two load classes.
    warehouses = pd.concat([tables["warehouses"], pd.DataFrame({
        "warehouse_id": ["W2"], "name": ["South DC"], "region": ["south"],
        "daily_throughput": [10.0], "service_radius_km": [35.0], "lat": [22.62],
        "lng": [114.12]})], ignore_index=True)
    card = pd.concat([sheets["warehouses"], pd.DataFrame({
        "warehouse_id": ["W2"], "replenishment_units": [120.0], "daily_throughput": [10.0],
        "service_radius_km": [35.0]})], ignore_index=True)
    fmap = am.allocation_map(stores=tables["stores"], warehouses=warehouses,
                             warehouse_card=card, store_card=sheets["stores"],
                             lines=record.lines, days=7.0)
    return fmap, warehouses, card, sheets["stores"]


def _layers(fmap: folium.Map) -> dict[str, object]:
    return {child.layer_name: child for child in fmap._children.values()
            if hasattr(child, "layer_name")}


def _ids_in(layer) -> list[str]:
    features = json.loads(layer.data)["features"]
    return [html.unescape(f["properties"]["tip"]).split("</b>")[0].removeprefix("<b>").split()[0]
            for f in features]


def test_each_warehouse_circle_is_its_service_radius(drawn) -> None:
    fmap, warehouses, _, _ = drawn
    circles = [c for c in _layers(fmap)[am.RADIUS_LAYER]._children.values()
               if isinstance(c, folium.Circle)]
    assert len(circles) == len(warehouses)
    for circle, (_, row) in zip(circles, warehouses.iterrows(), strict=True):
        assert circle.location == pytest.approx([row["lat"], row["lng"]])
        assert circle.options["radius"] == pytest.approx(row["service_radius_km"] * 1000.0)


def test_warehouse_load_class_and_store_risk_class(drawn) -> None:
    fmap, _, card, stores = drawn
    layers = _layers(fmap)
    # Load: units shipped over 7 days of throughput, in the classes <50 %, 50-80 %, 80-100 %, >100 %.
    for _, row in card.iterrows():
        load = row["replenishment_units"] / (7 * row["daily_throughput"])
        klass = 0 if load < 0.5 else 1 if load < 0.8 else 2 if load < 1.0 else 3
        assert row["warehouse_id"] in _ids_in(layers[am.LOAD_CLASSES[klass].label])
    assert "W2" in _ids_in(layers["Warehouse load over 100 %"])  # 120 units on 70 a week
    # Risk: expected units short after the plan over the demand of the plan's days.
    seen = set()
    for _, row in stores.iterrows():
        risk = row["expected_stockout_after"] / row["demand_horizon"]
        klass = 0 if risk < 0.01 else 1 if risk < 0.03 else 2 if risk < 0.10 else 3
        assert row["store_id"] in _ids_in(layers[am.RISK_CLASSES[klass].label])
        seen.add(klass)
    assert seen  # every store is drawn in the class of its own risk


def test_the_key_lists_every_class_drawn_and_tooltips_carry_units(drawn) -> None:
    fmap, _, card, stores = drawn
    page = fmap.get_root().render()
    labels = [label for label, _, _, _ in fmap.__dict__["_xingtu_key"]]
    drawn_layers = set(_layers(fmap))
    for klass in (*am.LOAD_CLASSES, *am.RISK_CLASSES):
        assert (klass.label in labels) == (klass.label in drawn_layers)
    assert am.RADIUS_LAYER in labels and "Movements (wider: more units)" in labels
    assert "xingtu-key" in page and "data-layer" in page
    for label in labels:
        assert json.dumps(label)[1:-1] in page or html.escape(label) in page
    # Tooltips: units with thousands separators, shares in %.
    tips = " ".join(json.loads(layer.data)["features"][0]["properties"]["tip"]
                    for layer in _layers(fmap).values() if hasattr(layer, "data"))
    assert " %" in tips and "km" in tips
    w1 = card.iloc[0]
    assert f"{7 * w1['daily_throughput']:,.0f}" in tips


def test_class_index_edges() -> None:
    values = np.array([0.0, 0.0099, 0.01, 0.0299, 0.03, 0.5])
    assert am.class_index(values, am.RISK_EDGES).tolist() == [0, 0, 1, 1, 2, 3]
