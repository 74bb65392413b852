"""Allocation page: next week's transfers and replenishment, KPIs, a map of arrows, downloads."""

import io
import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st

from app_pages import common

st.title("Weekly allocation")
st.caption("Move stock from where it sits to where it will sell next week, replenish from the "
           "warehouses and keep safety stock. Every plan is saved with its inputs' fingerprint.")

plan = common.require("optimizer.allocation.plan", "plan_week", "input_fingerprint", "PlanSettings",
                      feature="Weekly allocation")

PLAN_KEY = "allocation_plan"
KPIS = [("expected_stockout_units_before", "Expected stockouts before", "{:,.0f} units"),
        ("expected_stockout_units_after", "Expected stockouts after", "{:,.0f} units"),
        ("cross_region_transfer_rate", "Cross-region transfer rate", "{:.1%}"),
        ("store_turnover_days_after", "Store turnover", "{:,.1f} days"),
        ("units_transferred_between_stores", "Units moved between stores", "{:,.0f}"),
        ("units_replenished_from_warehouses", "Units from warehouses", "{:,.0f}"),
        ("trucks", "Trucks", "{:,.0f}"),
        ("transport_cost", "Transport cost", "{:,.0f} CNY")]

data = common.region()
last_sale = pd.Timestamp(pd.to_datetime(data.sales["date"]).max()).normalize()
first_monday_after = last_sale + pd.Timedelta(days=7 - last_sale.weekday())  # first unseen week
year, week_number, _ = first_monday_after.isocalendar()
next_week = f"{year}-W{week_number:02d}"

with st.sidebar:
    week = st.text_input("Week to plan", value=next_week, key="al_week",
                         help="ISO week, e.g. 2026-W48. Only sales before it are used.")
    service_level = st.slider("Service level", 0.80, 0.995, 0.95, 0.005, key="al_service",
                              help="Chance that a store does not run out within the lead time.")
    limit_cross = st.checkbox("Limit cross-region transfers", key="al_limit_cross")
    cross_share = st.slider("Most cross-region share of moved units", 0.0, 1.0, 0.1, 0.05,
                            key="al_cross_share", disabled=not limit_cross)
    time_limit = st.slider("Solver time limit (s)", 5, 300, 60, 5, key="al_time_limit")
    tiles = common.tiles()

settings = plan.PlanSettings(service_level=service_level, time_limit=float(time_limit),
                             max_cross_region_share=cross_share if limit_cross else None)
tables = {"stores": data.stores, "warehouses": data.warehouses, "skus": data.skus,
          "sales": data.sales, "stock": data.stock}
lanes = getattr(data, "lanes", None)
if lanes is not None:
    tables["lanes"] = lanes


def without_geometry(frame: pd.DataFrame) -> pd.DataFrame:
    """Point geometry as ``lng``/``lat`` columns, as the fingerprint canonicalises it."""
    if "geometry" not in frame.columns:
        return frame
    return pd.DataFrame(frame.drop(columns="geometry")).assign(
        lng=frame.geometry.x.to_numpy(), lat=frame.geometry.y.to_numpy())


@st.cache_data(show_spinner="Fingerprinting the inputs…", max_entries=16)
def fingerprint_for(key: str, week: str, settings_repr: str, _tables: dict) -> str:
    """Return the fingerprint of the week's inputs (cached per data key, week and settings)."""
    plain = {name: without_geometry(table) for name, table in _tables.items()}
    return plan.input_fingerprint(plain, {"week": week, "settings": settings_repr})


inputs_key = (common.data_key(), week, repr(settings))
store = common.store()

b1, b2 = st.columns(2)
run_clicked = b1.button("Run next week's plan", type="primary", key="al_run")
load_clicked = b2.button("Load the saved plan of this week", key="al_load")

if run_clicked:
    with st.status(f"Planning {week}…", expanded=True) as status:
        st.write("Fingerprinting the inputs…")
        fingerprint = fingerprint_for(*inputs_key, tables)
        st.write("Checking the inputs, forecasting demand per store and SKU, setting safety "
                 "stock, then solving the transfer model (up to the time limit)…")
        try:
            with common.live_gap():
                weekly = plan.plan_week(**tables, week=week, settings=settings)
        except ValueError as error:
            status.update(label="The plan could not be made", state="error")
            common.show_error(error, what="Weekly plan")
            st.stop()
        st.write(common.solve_report_line(weekly.report))
        kpis = {**weekly.kpis, "warehouses": weekly.warehouses.to_dict(orient="records")}
        report = weekly.report
        plan_id = store.save_plan(week, fingerprint, weekly.lines, kpis, report)
        st.write(f"Saved as plan {plan_id}.")
        status.update(label=f"Plan for {week}: {len(weekly.lines):,} lines", state="complete",
                      expanded=False)
    st.session_state[PLAN_KEY] = (week, weekly.lines, kpis, dict(vars(report)), fingerprint,
                                  inputs_key)
elif load_clicked:
    try:
        lines, kpis, report, saved_fingerprint = store.load_plan(week)
    except ValueError as error:
        common.show_error(error, what="Loading the plan")
    else:
        with st.spinner("Checking whether the saved plan matches the current inputs…"):
            current_fingerprint = fingerprint_for(*inputs_key, tables)
        made_from = inputs_key if saved_fingerprint == current_fingerprint else None
        st.session_state[PLAN_KEY] = (week, lines, kpis, report, saved_fingerprint, made_from)

current = st.session_state.get(PLAN_KEY)
if current is None:
    st.info("**Run next week's plan**, or load a saved one.")
    saved = store.list_plans()
    if len(saved):
        st.dataframe(saved, hide_index=True, width="stretch")
    st.stop()

week_shown, lines, kpis, report, plan_fingerprint, made_from = current
if made_from != inputs_key:
    st.warning(f"This plan ({week_shown}) was made from other inputs or settings than those now "
               "selected; run the plan again to refresh it.")
st.caption(common.solve_report_line(report))
if report.get("status") != "optimal":
    st.caption("Not proven optimal: the gap is the most the plan's cost could still improve.")

columns = st.columns(4)
for position, (key, label, pattern) in enumerate(KPIS):
    value = kpis.get(key)
    columns[position % 4].metric(label, pattern.format(value) if isinstance(value, int | float)
                                 else "–")

# ---- map of the movements ---------------------------------------------------------------------
from xingtu import maps  # noqa: E402


def coordinates(frame: pd.DataFrame, id_column: str) -> pd.DataFrame:
    """Return ``lat``/``lng`` of each location, indexed by its id."""
    return pd.DataFrame({"lat": frame.geometry.y.to_numpy(), "lng": frame.geometry.x.to_numpy()},
                        index=frame[id_column].astype(str).to_numpy())


places = pd.concat([coordinates(data.stores, "store_id"),
                    coordinates(data.warehouses, "warehouse_id")])
moves = lines.groupby(["from", "to"], as_index=False).agg(quantity=("quantity", "sum"),
                                                          skus=("sku", "nunique"))
moves = moves[moves["from"].isin(places.index) & moves["to"].isin(places.index)]
moves = moves.assign(
    from_lat=places.loc[moves["from"], "lat"].to_numpy(),
    from_lng=places.loc[moves["from"], "lng"].to_numpy(),
    to_lat=places.loc[moves["to"], "lat"].to_numpy(),
    to_lng=places.loc[moves["to"], "lng"].to_numpy(),
    route=moves["from"] + " → " + moves["to"])
fmap = maps.base_map((float(places["lat"].median()), float(places["lng"].median())), zoom=9,
                     tiles=tiles)
if len(moves):
    maps.add_transfers(fmap, moves, name="Movements",
                       tooltip={"route": "Route", "quantity": "Units", "skus": "SKUs"})
maps.add_points(fmap, data.stores, name="Stores", color="#1f78b4", radius=4, title="store_id",
                tooltip={"channel": "Channel", "region": "Region"})
maps.add_points(fmap, data.warehouses, name="Warehouses", color="#33a02c", radius=9,
                title="warehouse_id", tooltip={"daily_throughput": "Daily throughput"})
maps.finish(fmap)
st.caption("Arrows go from the sending store or warehouse to the receiving store; the wider, "
           "the more units.")
common.show_map(fmap, key="al_map")

# ---- tables and downloads ---------------------------------------------------------------------
warehouses = pd.DataFrame(kpis.get("warehouses", []))
tab_lines, tab_warehouses = st.tabs(["Plan lines", "Warehouse load"])
with tab_lines:
    st.dataframe(lines, hide_index=True, width="stretch")
with tab_warehouses:
    if len(warehouses):
        st.dataframe(warehouses, hide_index=True, width="stretch", column_config={
            "throughput_used": st.column_config.ProgressColumn("Throughput used", min_value=0.0,
                                                               max_value=1.0, format="percent")})


@st.cache_data(show_spinner=False, max_entries=4)
def workbook_bytes(week: str, fingerprint: str, _sheets: dict) -> bytes:
    """Return the plan as an Excel workbook (written by the project's atomic exporter)."""
    from xingtu.export import write_workbook

    with tempfile.TemporaryDirectory() as folder:
        path = write_workbook(_sheets, Path(folder) / f"plan_{week}.xlsx")
        return path.read_bytes()


kpi_table = pd.DataFrame({"kpi": [k for k in kpis if k != "warehouses"],
                          "value": [str(v) for k, v in kpis.items() if k != "warehouses"]})
sheets = {"plan_lines": lines, "kpis": kpi_table, "warehouses": warehouses}
d1, d2 = st.columns(2)
d1.download_button("Download Excel", workbook_bytes(week_shown, plan_fingerprint, sheets),
                   file_name=f"plan_{week_shown}.xlsx", key="al_xlsx",
                   mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
csv = io.StringIO()
lines.to_csv(csv, index=False)
d2.download_button("Download CSV", csv.getvalue().encode("utf-8"), file_name=f"plan_{week_shown}.csv",
                   mime="text/csv", key="al_csv")
