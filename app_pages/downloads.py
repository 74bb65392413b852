"""Download buttons for a siting run or a saved scenario: GeoJSON, GeoPackage, Excel, site report.

Not a page: Site selection (the run on screen) and Scenarios (the chosen scenario) call
:func:`site_downloads`. The files are :mod:`xingtu.jobs.site_files`'; this module only draws.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from app_pages import common
from xingtu.jobs.site_files import (
    SITE_FILES,
    ReportMap,
    SiteFile,
    download_name,
    report_map,
    site_file_bytes,
)
from xingtu.jobs.siting import ScenarioRecord

LABELS: dict[SiteFile, str] = {
    "geojson": "Download sites (GeoJSON)", "gpkg": "Download sites (GeoPackage)",
    "xlsx": "Download sites (Excel)", "html": "Download the site report (HTML)"}
"""Button label of each file."""


@st.cache_resource(show_spinner=False, max_entries=4)
def _report_map_for(key: str, _layers: pd.DataFrame, _stores: Any, _competitors: Any,
                    ) -> ReportMap:
    return report_map(_layers, _stores, _competitors)


def current_report_map() -> ReportMap:
    """Return the report map of the data in use (outline, own stores, competitors; cached)."""
    data = common.region()
    return _report_map_for(common.data_key(), common.layers(), getattr(data, "stores", None),
                           getattr(data, "competitors", None))


@st.cache_data(show_spinner=False, max_entries=32)
def _file_for(fingerprint: str, kind: SiteFile, _record: ScenarioRecord,
              _context: ReportMap) -> bytes:
    return site_file_bytes(_record, kind, context=_context)


def record_fingerprint(record: ScenarioRecord) -> str:
    """Identify a run or scenario's content (and the data in use), for caching its files.

    The same run gives the same files, so a download does not change under the user between two
    reruns (a GeoPackage and the report carry the time they were made).
    """
    import hashlib
    import json

    sites = pd.DataFrame(record.sites).drop(columns="geometry", errors="ignore")
    digest = hashlib.sha1()
    digest.update(json.dumps([record.name, record.parameters, record.summary], sort_keys=True,
                             default=str).encode())
    digest.update(pd.util.hash_pandas_object(sites.astype(str), index=False).to_numpy().tobytes())
    digest.update(common.data_key().encode())
    return digest.hexdigest()


def site_downloads(record: ScenarioRecord, *, key: str) -> None:
    """Draw one download button per file of ``record`` (a run or a loaded scenario).

    Parameters
    ----------
    record
        :func:`xingtu.jobs.siting.scenario_record` of the run on screen, or
        :func:`xingtu.jobs.site_files.scenario_from_saved` of a loaded scenario.
    key
        Prefix of the buttons' widget keys (``<key>_geojson``, ...).
    """
    try:
        context = current_report_map()
        fingerprint = record_fingerprint(record)
        files = {kind: _file_for(fingerprint, kind, record, context) for kind in SITE_FILES}
    except (ValueError, OSError) as error:
        common.show_error(error, what="Preparing the downloads")
        return
    for column, (kind, data) in zip(st.columns(len(files)), files.items(), strict=True):
        column.download_button(LABELS[kind], data, file_name=download_name(record.name, kind),
                               mime=SITE_FILES[kind][1], key=f"{key}_{kind}",
                               on_click="ignore")
