"""Allocation page: next week's transfers and replenishment, KPIs, a map of arrows, downloads.

The plan is made, fingerprinted, saved and exported by :mod:`xingtu.jobs.weekly`, the same job
``xingtu allocate`` runs, so a plan saved here loads in the CLI's database and back unchanged.
"""

import streamlit as st

from app_pages import common
from optimizer.allocation import PlanSettings
from xingtu.export import csv_bytes
from xingtu.jobs import weekly

st.title("Weekly allocation")
st.caption("Move stock from where it sits to where it will sell next week, replenish from the "
           "warehouses and keep safety stock. Every plan is saved with its inputs' fingerprint.")

PLAN_KEY = "allocation_plan"
WARNINGS_KEY = "allocation_warnings"
FREE_KEY = "allocation_free_plan"
# The plan of the week without edits (what a re-solve with edits is priced against).
EDIT_TABLE_KEY = "al_edit_table"
# The plan-line editor's table: (fingerprint of the plan it shows, lines with lock/drop ticks).
DEFAULTS = PlanSettings()
KPIS = [("expected_stockout_units_before", "Expected stockouts before", "{:,.0f} units"),
        ("expected_stockout_units_after", "Expected stockouts after", "{:,.0f} units"),
        ("cross_region_transfer_rate", "Cross-region transfer rate", "{:.1%}"),
        ("store_turnover_days_after", "Store turnover", "{:,.1f} days"),
        ("units_transferred_between_stores", "Units moved between stores", "{:,.0f}"),
        ("units_replenished_from_warehouses", "Units from warehouses", "{:,.0f}"),
        ("trucks", "Trucks", "{:,.0f}"),
        ("transport_cost", "Transport cost", "{:,.0f} CNY")]

data = common.region()

with st.sidebar:
    horizon = st.radio("Plan", ["week", "day"], key="al_horizon", horizontal=True,
                       format_func={"week": "Next week", "day": "Next day"}.get,
                       help="A week's transfers and replenishment, or a daily re-plan: "
                            "tomorrow's moves from today's closing stock and sales, with "
                            "the stock still on the road from the saved plans.")
    is_day = horizon == "day"
    if is_day:
        week = st.text_input("Day to plan", value=weekly.next_day(data.sales), key="al_day",
                             help="YYYY-MM-DD, the ship day. Only sales before it are used; "
                                  "the stock is the closing stock of the day before.")
    else:
        week = st.text_input("Week to plan", value=weekly.next_week(data.sales),
                             key="al_week",
                             help="ISO week, e.g. 2026-W48. Only sales before it are used.")
    service_level = st.slider("Service level", 0.80, 0.995, DEFAULTS.service_level, 0.005,
                              key="al_service",
                              help="Chance that a store does not run out within the lead time.")
    limit_cross = st.checkbox("Limit cross-region transfers", key="al_limit_cross")
    cross_share = st.slider("Most cross-region share of moved units", 0.0, 1.0, 0.1, 0.05,
                            key="al_cross_share", disabled=not limit_cross)
    time_limit = st.slider("Solver time limit (s)", 5, 600, int(DEFAULTS.time_limit), 5,
                           key="al_time_limit")
    tiles = common.tiles()

settings = PlanSettings(service_level=service_level, time_limit=float(time_limit),
                        max_cross_region_share=cross_share if limit_cross else None)
tables = {kind: getattr(data, kind, None) for kind in weekly.INPUT_KINDS}


@st.cache_data(show_spinner="Fingerprinting the inputs…", max_entries=16)
def fingerprint_for(key: str, week: str, _settings: PlanSettings, settings_key: str,
                    _tables: dict, saved_plans: int) -> str:
    """Return the job's fingerprint of the data, the week or day and the settings (cached).

    A day's fingerprint counts the stock in transit from the saved plans, so the number of
    saved plans is part of the cache key.
    """
    return weekly.label_fingerprint(_tables, week, _settings, common.store())


inputs_key = (common.data_key(), week, repr(settings))
store = common.store()

b1, b2 = st.columns(2)
run_clicked = b1.button("Run the next day's plan" if is_day else "Run next week's plan",
                        type="primary", key="al_run")
load_clicked = b2.button("Load the saved plan of this day" if is_day
                         else "Load the saved plan of this week", key="al_load")

if run_clicked:
    with st.status(f"Planning {week}…", expanded=True) as status:
        try:
            with common.live_gap():
                run = weekly.run_plan(tables, label=week, settings=settings, database=store,
                                      stage=st.write)
            previous = weekly.previous_record(store, week)
            plan_id = weekly.save_record(store, run.record)
        except ValueError as error:
            status.update(label="The plan could not be made", state="error")
            common.show_error(error, what="Weekly plan")
            st.stop()
        st.write(run.record.solve_report.summary(objective="cost"))
        st.write(f"Saved as plan {plan_id}.")
        status.update(label=f"Plan for {week}: {len(run.record.lines):,} lines",
                      state="complete", expanded=False)
    st.session_state[PLAN_KEY] = (run.record, inputs_key, previous)
    st.session_state[FREE_KEY] = (run.record, inputs_key)
    st.session_state[WARNINGS_KEY] = run.warnings
elif load_clicked:
    try:
        record = weekly.load_record(store, week)
        saved = store.list_plans()
        loaded_id = int(saved.loc[saved["week"] == week, "id"].max())
        previous = weekly.previous_record(store, week, before_id=loaded_id)
        with st.spinner("Checking whether the saved plan matches the current inputs…"):
            current = fingerprint_for(*inputs_key[:2], settings, inputs_key[2], tables,
                                      len(saved))
    except ValueError as error:
        common.show_error(error, what="Loading the plan")
    else:
        st.session_state[WARNINGS_KEY] = ()  # the saved plan's warnings were shown when made
        st.session_state[PLAN_KEY] = (record,
                                      inputs_key if record.fingerprint == current else None,
                                      previous)
        if not record.has_edits and record.fingerprint == current:
            st.session_state[FREE_KEY] = (record, inputs_key)

shown = st.session_state.get(PLAN_KEY)
if shown is None:
    st.info("**Run next week's plan**, or load a saved one.")
    saved = store.list_plans()
    if len(saved):
        st.dataframe(saved, hide_index=True, width="stretch")
    st.stop()

record, made_from, previous = shown
common.show_warnings(st.session_state.get(WARNINGS_KEY, ()))
lines, kpis = record.lines, record.kpis
if made_from != inputs_key:
    st.warning(f"This plan ({record.week}) was made from other inputs or settings than those "
               "now selected; run the plan again to refresh it.")
st.caption(record.solve_report.summary(objective="cost"))
if not record.solve_report.is_optimal:
    st.caption("Not proven optimal: the gap is the most the plan's cost could still improve.")

columns = st.columns(4)
for position, (key, label, pattern) in enumerate(KPIS):
    value = kpis.get(key)
    columns[position % 4].metric(label, pattern.format(value) if isinstance(value, int | float)
                                 else "–")

# ---- map of the warehouses, stores and movements -------------------------------------------
from xingtu import allocation_map  # noqa: E402

sheets = record.sheets(previous)
days = 1.0 if weekly.DAY_LABEL.fullmatch(record.week) else 7.0
warehouse_card, store_card = sheets["warehouses"], sheets["stores"]
if {"replenishment_units", "daily_throughput"} <= set(warehouse_card.columns) and \
        {"expected_stockout_after", "demand_horizon"} <= set(store_card.columns):
    fmap = allocation_map.allocation_map(stores=data.stores, warehouses=data.warehouses,
                                         warehouse_card=warehouse_card, store_card=store_card,
                                         lines=lines, days=days, tiles=tiles)
    st.caption("Squares are warehouses, bigger and redder as their load grows (units shipped "
               "in the plan against daily throughput times the plan's days), with their "
               "service radius; circles are stores coloured by their stockout risk after the "
               "plan (expected units short over demand); arrows go from sender to receiver, "
               "wider for more units.")
    common.show_map(fmap, key="al_map")
else:
    st.info("This saved plan has no warehouse and store cards: run the plan again to map it.")

# ---- tables and downloads ---------------------------------------------------------------------
tab_lines, tab_warehouses, tab_stores, tab_lists, tab_compare = st.tabs(
    ["Plan lines", "Warehouse card", "Store card", "Slow movers and stockout risk",
     "Compare with last week"])
with tab_lines:
    st.dataframe(sheets["plan"], hide_index=True, width="stretch", key="al_lines")
with tab_warehouses:
    st.caption("Per warehouse: turnover, delivery days per channel, cross-region rates, daily "
               "throughput and peak ship day, service radius, safety stock, expected stockouts "
               "and next week's replenishment and supplier orders.")
    if len(sheets["warehouses"]):
        st.dataframe(sheets["warehouses"], hide_index=True, width="stretch",
                     key="al_warehouses", column_config={
                         "peak_day_load": st.column_config.ProgressColumn(
                             "Peak day load", min_value=0.0, max_value=1.0, format="percent")})
with tab_stores:
    st.caption("Per store: turnover, safety stock, reorder point, order-up-to level, expected "
               "stockouts before and after the plan, units in and out; riskiest first.")
    store_card = sheets["stores"]
    if "expected_stockout_after" in store_card.columns:
        store_card = store_card.sort_values("expected_stockout_after", ascending=False)
    st.dataframe(store_card, hide_index=True, width="stretch", key="al_stores")
with tab_lists:
    st.subheader("Slow movers")
    st.caption("Store-SKUs by weeks of cover, most first (days since the last sale beside).")
    st.dataframe(sheets["slow_movers"], hide_index=True, width="stretch", key="al_slow")
    st.subheader("Fast and slow movers per region")
    st.dataframe(sheets["movers"], hide_index=True, width="stretch", key="al_movers")
    st.subheader("Stockout risk")
    st.caption("Store-SKUs still expected to run short after the plan.")
    st.dataframe(sheets["stockout_risk"], hide_index=True, width="stretch", key="al_risk")
if record.has_edits:
    st.subheader("Locked and dropped lines")
    k = kpis
    if "edits_cost" in k:
        st.caption(f"Expected cost with the edits {k['free_plan_cost'] + k['edits_cost']:,.0f} "
                   f"CNY against {k['free_plan_cost']:,.0f} CNY for the plan without them "
                   f"({k['edits_cost']:+,.0f} CNY).")
    st.dataframe(sheets[weekly.EDITS_SHEET], hide_index=True, width="stretch",
                 key="al_edits_sheet")
with tab_compare:
    if previous is None:
        st.info("No earlier plan of this week or the week before is saved: nothing to compare.")
    else:
        st.caption(f"Units in and out per warehouse and store: plan {previous.week} as saved "
                   f"before, against this plan ({record.week}); biggest change first.")
        st.dataframe(sheets["changes"], hide_index=True, width="stretch", key="al_changes")


# ---- the planner's edits: lock or drop lines, re-solve -----------------------------------------
if weekly.DAY_LABEL.fullmatch(record.week):
    st.caption("Lines are locked or dropped on a week's plan; a day's plan is made again "
               "the next day from that day's closing stock.")
else:
    st.subheader("Lock or drop plan lines")
    st.caption("Tick **Lock** to keep a line at the quantity shown (change the quantity to lock "
               "another), **Drop** to ship nothing on it; then re-solve: the rest of the plan is "
               "re-optimised around your edits, and the download holds a sheet of them.")
    held = st.session_state.get(EDIT_TABLE_KEY)
    if held is None or held[0] != record.fingerprint:
        held = (record.fingerprint, weekly.editor_lines(record))
        st.session_state[EDIT_TABLE_KEY] = held
    edited = st.data_editor(
        held[1], key="al_editor", hide_index=True, width="stretch",
        disabled=["from", "to", "sku"], num_rows="fixed",
        column_config={
            "quantity": st.column_config.NumberColumn("Quantity", min_value=0, step=1,
                                                      format="%d"),
            "lock": st.column_config.CheckboxColumn("Lock", help="Ship exactly this quantity."),
            "drop": st.column_config.CheckboxColumn("Drop", help="Ship nothing on this line.")})
    if st.button("Re-solve with these edits", key="al_resolve"):
        free_shown = st.session_state.get(FREE_KEY)
        free_record = free_shown[0] if free_shown and free_shown[1] == inputs_key else None
        with st.status(f"Re-planning {record.week} with your edits…", expanded=True) as status:
            try:
                edits = weekly.edits_from_lines(edited)
                if edits is None:
                    raise ValueError("No line is ticked to lock or drop: tick Lock or Drop on "
                                     "the lines to change, then re-solve.")
                with common.live_gap():
                    run = weekly.run_week(tables, week=record.week, settings=settings,
                                          stage=st.write, edits=edits, free_plan=free_record)
                previous = weekly.previous_record(store, record.week)
                plan_id = weekly.save_record(store, run.record)
            except ValueError as error:
                status.update(label="The edited plan could not be made", state="error")
                common.show_error(error, what="Re-solving with the edits")
                st.stop()
            st.write(run.record.summary())
            st.write(f"Saved as plan {plan_id}.")
            status.update(label=f"Plan for {record.week} with your edits: "
                                f"{len(run.record.lines):,} lines", state="complete",
                          expanded=False)
        st.session_state[PLAN_KEY] = (run.record, inputs_key, previous)
        st.session_state[WARNINGS_KEY] = run.warnings
        st.rerun()


@st.cache_data(show_spinner=False, max_entries=4)
def download_bytes(fingerprint: str, week: str, previous_key: str,
                   _record: weekly.PlanRecord, _previous: weekly.PlanRecord | None) -> bytes:
    """Return the plan workbook, the same file ``xingtu allocate`` writes."""
    return weekly.plan_workbook_bytes(_record, _previous)


try:
    excel_name, csv_name = record.file_name(".xlsx"), record.file_name(".csv")
except ValueError as error:  # a saved week label that is not a week: never a file name
    common.show_error(error, what="Downloading the plan")
    st.stop()
previous_key = "" if previous is None else f"{previous.week}:{previous.fingerprint}"
d1, d2 = st.columns(2)
d1.download_button("Download Excel",
                   download_bytes(record.fingerprint, record.week, previous_key, record, previous),
                   file_name=excel_name, key="al_xlsx",
                   mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
d2.download_button("Download CSV", csv_bytes(lines), file_name=csv_name, mime="text/csv",
                   key="al_csv")
