r"""What-if on one site: its sales, whom it takes them from, and where its customers come from.

For a new store at any point, and the same for an existing store.

Under the Huff model (:mod:`optimizer.huff`) a customer cell :math:`i` with demand :math:`d_i`
and today's total utility :math:`D_i = \sum_k u_{ik}` over own and competitor stores gives a new
site of utility :math:`u_i` the probability :math:`P_i = u_i / (D_i + u_i)`. Then

- catchment: :math:`P_i` and :math:`d_i P_i` per cell (the surface the map draws);
- expected sales (the Huff capture): :math:`\sum_i d_i P_i`;
- what store :math:`k` loses: :math:`\sum_i d_i u_{ik} (1/D_i - 1/(D_i + u_i))` over cells
  served today, its share of its sales today :math:`\sum_i d_i u_{ik} / D_i`;
- new demand: :math:`\sum_i d_i P_i` over cells no store reaches today (:math:`D_i = 0`).

Since :math:`\sum_k u_{ik}(1/D_i - 1/(D_i+u_i)) = u_i/(D_i+u_i)`, the accounting identity
*expected sales = cannibalisation of own stores + competitors' loss + new demand* holds exactly
(:meth:`SiteWhatIf.accounting_gap` is zero up to rounding). For an existing store
(:func:`store_what_if`) the same is computed with the store added to the network without it:
its expected sales are its Huff sales today, the "cannibalisation" is what it takes from the
other own stores, and the catchment says where its customers come from.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .calibration import Calibration, calibrate
from .errors import InputError
from .geometry import frame_to_lat_lng, haversine_km
from .huff import (
    DEFAULT_MIN_DISTANCE_KM,
    StorePoints,
    capture_by_candidate,
    utility_matrix,
)


@dataclass(frozen=True)
class SiteWhatIf:
    """The Huff what-if of one site.

    Attributes
    ----------
    site
        Label of the site (the cell id, ``"lat, lng"`` or the store id).
    lat, lng
        Position of the site.
    cell
        The layer cell the site is in (nearest cell centre), or ``None``.
    floor_area_m2
        Attractiveness used for the site.
    expected_sales
        Huff capture: expected sales a year (CNY when demand is calibrated on sales).
    from_own, from_competitors, from_unserved
        Where the sales come from: own stores (cannibalisation), competitors, and demand no store
        reached before (new demand). They add up to ``expected_sales``.
    catchment_demand
        Total demand of the cells the site reaches (within the cutoff).
    own_stores
        Per own store (index: store id): ``sales_before, lost, share_lost`` (lost / sales
        before), largest loss first; stores that lose nothing are left out.
    competitors
        The same for the competitor stores it takes from.
    catchment
        Per reached cell (index: cell): ``lat, lng, demand, probability`` (of its customers
        visiting the site) and ``captured`` (demand x probability), largest capture first.
    """

    site: str
    lat: float
    lng: float
    cell: object | None
    floor_area_m2: float
    expected_sales: float
    from_own: float
    from_competitors: float
    from_unserved: float
    catchment_demand: float
    own_stores: pd.DataFrame
    competitors: pd.DataFrame
    catchment: pd.DataFrame

    @property
    def net_gain(self) -> float:
        """Expected sales minus what own stores lose (what the chain gains)."""
        return self.expected_sales - self.from_own

    @property
    def capture_share(self) -> float:
        """Share of the reached cells' demand the site captures."""
        return self.expected_sales / self.catchment_demand if self.catchment_demand > 0 else 0.0

    @property
    def accounting_gap(self) -> float:
        """``expected_sales`` minus the sum of every store's loss and the new demand (0)."""
        return float(self.expected_sales - self.own_stores["lost"].sum()
                     - self.competitors["lost"].sum() - self.from_unserved)

    def summary(self) -> str:
        """Return two plain sentences for a planner.

        Examples
        --------
        The text reads like ``"Site 88411c...: expected sales 12,345,678 CNY a year ..."``.
        """
        text = (f"Site {self.site}: expected sales {self.expected_sales:,.0f} CNY a year "
                f"({100 * self.capture_share:.1f}% of the {self.catchment_demand:,.0f} demand "
                f"it reaches): {self.from_competitors:,.0f} from competitors, "
                f"{self.from_unserved:,.0f} new demand and {self.from_own:,.0f} taken from our "
                f"own stores; net gain {self.net_gain:,.0f} CNY.")
        if len(self.own_stores):
            top = self.own_stores.iloc[0]
            text += (f" Most affected own store: {self.own_stores.index[0]} loses "
                     f"{top['lost']:,.0f} CNY ({100 * top['share_lost']:.1f}% of its sales).")
        return text


def site_what_if(layers: pd.DataFrame, own_stores: pd.DataFrame,
                 competitors: pd.DataFrame | None = None, *, cell: object | None = None,
                 lat: float | None = None, lng: float | None = None,
                 floor_area_m2: float | None = None, calibration: Calibration | None = None,
                 demand: np.ndarray | pd.Series | None = None,
                 min_probability: float = 0.0) -> SiteWhatIf:
    """Return the Huff what-if of a new store at a cell or a point.

    Parameters
    ----------
    layers
        The layer table (index: cell; ``lat``/``lng``; the demand model's columns).
    own_stores, competitors
        Today's stores (point geometry or ``lat``/``lng``; ``floor_area_m2``; own stores'
        ``store_id`` names them in the result).
    cell
        The site's cell (a layer index value, or an H3 hexadecimal string); or give ``lat`` and
        ``lng``.
    lat, lng
        The site's position (e.g. a click on the map).
    floor_area_m2
        Size of the new store; the median own store when ``None``.
    calibration
        The demand model (e.g. ``run.calibration`` of a siting run); calibrated on
        ``own_stores`` when ``None``.
    demand
        Demand per cell, if already computed (overrides ``calibration.demand(layers)``).
    min_probability
        Catchment cells with a lower visit probability are left out of ``catchment`` (the
        totals still count them).

    Returns
    -------
    SiteWhatIf

    Examples
    --------
    >>> wi = site_what_if(layers, stores, competitors, lat=22.54, lng=114.06)  # doctest: +SKIP
    >>> wi.expected_sales, wi.own_stores.head()  # doctest: +SKIP
    """
    calibration, demand_values = _demand(layers, own_stores, competitors, calibration, demand)
    own = _stores(own_stores)
    comp = _stores(competitors) if competitors is not None and len(competitors) else None
    site_lat, site_lng, site_cell, label = _site_position(layers, cell, lat, lng)
    area = float(floor_area_m2 if floor_area_m2 is not None else
                 (np.median(own.attractiveness) if len(own) else 200.0))
    return _what_if(layers, demand_values, site_lat, site_lng, area, own, comp, calibration,
                    site=label, cell=site_cell, min_probability=min_probability)


def store_what_if(layers: pd.DataFrame, own_stores: pd.DataFrame,
                  competitors: pd.DataFrame | None = None, *, store_id: object,
                  calibration: Calibration | None = None,
                  demand: np.ndarray | pd.Series | None = None,
                  min_probability: float = 0.0) -> SiteWhatIf:
    """Return the what-if of an existing own store: its sales, from whom, and its catchment.

    Computed as the what-if of the store added to today's network without it, so
    ``expected_sales`` equals its Huff sales today (:func:`optimizer.huff.store_sales`),
    ``own_stores`` is what it takes from each other own store and ``from_unserved`` the demand
    only it reaches.

    Parameters
    ----------
    store_id
        The store (its ``store_id``, or its index value when the table has no ``store_id``).
    layers, own_stores, competitors, calibration, demand, min_probability
        See :func:`site_what_if`.

    Returns
    -------
    SiteWhatIf

    Examples
    --------
    >>> store_what_if(layers, stores, competitors, store_id="S001").catchment  # doctest: +SKIP
    """
    calibration, demand_values = _demand(layers, own_stores, competitors, calibration, demand)
    own = _stores(own_stores)
    matches = np.flatnonzero(own.ids.astype(str) == str(store_id))
    if matches.size == 0:
        shown = ", ".join(map(str, own.ids[:5]))
        raise InputError(f"`store_id` {store_id!r} is not one of the own stores ({shown}, ...); "
                         "pass a store id from the stores table.")
    position = int(matches[0])
    others = np.arange(len(own)) != position
    rest = StorePoints(own.lat[others], own.lng[others], own.attractiveness[others],
                       own.ids[others])
    comp = _stores(competitors) if competitors is not None and len(competitors) else None
    cell = _nearest_cell(layers, own.lat[position], own.lng[position])
    return _what_if(layers, demand_values, float(own.lat[position]), float(own.lng[position]),
                    float(own.attractiveness[position]), rest, comp, calibration,
                    site=str(own.ids[position]), cell=cell, min_probability=min_probability)


def _what_if(layers: pd.DataFrame, demand: np.ndarray, site_lat: float, site_lng: float,
             area: float, own: StorePoints, comp: StorePoints | None, calibration: Calibration,
             *, site: str, cell: object | None, min_probability: float) -> SiteWhatIf:
    cell_lat, cell_lng = frame_to_lat_lng(layers, "layers")
    options = {"alpha": calibration.alpha, "beta": calibration.beta,
               "cutoff_km": calibration.cutoff_km, "min_distance_km": DEFAULT_MIN_DISTANCE_KM}
    index = layers.index
    cutoff = calibration.cutoff_km
    if cutoff is not None:
        # Exact, and much smaller: the site reaches cells within c; the stores it takes from lie
        # within 2c; their sales today need the cells within 3c and the stores within 4c.
        near = haversine_km(site_lat, site_lng, cell_lat, cell_lng) <= 3 * cutoff
        cell_lat, cell_lng, demand, index = (cell_lat[near], cell_lng[near], demand[near],
                                             index[near])
        own = _stores_within(own, site_lat, site_lng, 4 * cutoff)
        comp = None if comp is None else _stores_within(comp, site_lat, site_lng, 4 * cutoff)
    new = StorePoints.from_arrays(np.array([site_lat]), np.array([site_lng]), area,
                                  ids=np.array([site]))
    u = _dense_column(utility_matrix(cell_lat, cell_lng, new, **options))
    u_own = utility_matrix(cell_lat, cell_lng, own, **options)
    u_comp = (utility_matrix(cell_lat, cell_lng, comp, **options) if comp is not None else
              sp.csr_array((len(cell_lat), 0)))
    today = _row_totals(u_own) + _row_totals(u_comp)
    after = today + u
    reached = u > 0
    served = today > 0
    probability = np.divide(u, after, out=np.zeros_like(u), where=after > 0)
    captured = demand * probability
    # What each store loses: d_i u_ik (1/D_i - 1/(D_i + u_i)) over served cells the site reaches.
    loss_factor = np.zeros_like(u)
    both = reached & served
    loss_factor[both] = demand[both] * (1.0 / today[both] - 1.0 / after[both])
    before_factor = np.divide(demand, today, out=np.zeros_like(today), where=served)
    own_table = _store_losses(u_own, own.ids, loss_factor, before_factor)
    comp_table = (_store_losses(u_comp, comp.ids, loss_factor, before_factor) if comp is not None
                  else _store_losses(u_comp, np.zeros(0), loss_factor, before_factor))
    # The totals come from the library's Huff capture (the same model, aggregated).
    capture = capture_by_candidate(demand, cell_lat, cell_lng, candidates=new,
                                   own=own if len(own) else None, competitors=comp,
                                   **options).iloc[0]
    keep = reached & (probability >= min_probability)
    catchment = pd.DataFrame({"lat": cell_lat[keep], "lng": cell_lng[keep],
                              "demand": demand[keep], "probability": probability[keep],
                              "captured": captured[keep]}, index=index[keep])
    catchment = catchment.sort_values("captured", ascending=False, kind="stable")
    return SiteWhatIf(
        site=site, lat=float(site_lat), lng=float(site_lng), cell=cell, floor_area_m2=area,
        expected_sales=float(capture["gross_captured"]), from_own=float(capture["from_own"]),
        from_competitors=float(capture["from_competitors"]),
        from_unserved=float(capture["from_unserved"]),
        catchment_demand=float(demand[reached].sum()), own_stores=own_table,
        competitors=comp_table, catchment=catchment)


def _stores_within(stores: StorePoints, lat: float, lng: float, radius_km: float
                   ) -> StorePoints:
    keep = haversine_km(lat, lng, stores.lat, stores.lng) <= radius_km
    return StorePoints(stores.lat[keep], stores.lng[keep], stores.attractiveness[keep],
                       stores.ids[keep])


def _store_losses(utility: sp.csr_array, ids: np.ndarray, loss_factor: np.ndarray,
                  before_factor: np.ndarray) -> pd.DataFrame:
    lost = utility.T @ loss_factor
    before = utility.T @ before_factor
    table = pd.DataFrame({"sales_before": before, "lost": lost},
                         index=pd.Index(ids, name="store"))
    table["share_lost"] = np.divide(lost, before, out=np.zeros_like(lost), where=before > 0)
    table = table[table["lost"] > 0]
    return table.sort_values("lost", ascending=False, kind="stable")


def _demand(layers: pd.DataFrame, own_stores: pd.DataFrame, competitors: pd.DataFrame | None,
            calibration: Calibration | None, demand: np.ndarray | pd.Series | None
            ) -> tuple[Calibration, np.ndarray]:
    if calibration is None:
        calibration = calibrate(layers, own_stores, competitors)
    if demand is None:
        values = calibration.demand(layers).to_numpy(float)
    else:
        values = np.asarray(demand, float).ravel()
        if values.shape != (len(layers),):
            raise InputError(f"`demand` has {values.size} values for {len(layers)} cells; give "
                             "one per row of the layer table.")
    return calibration, values


def _stores(frame: pd.DataFrame) -> StorePoints:
    size: str | float = "floor_area_m2" if "floor_area_m2" in frame.columns else 1.0
    ids = [c for c in ("store_id", "competitor_id") if c in frame.columns]
    return StorePoints.from_frame(frame, attractiveness=size, id_column=ids[0] if ids else None)


def _site_position(layers: pd.DataFrame, cell: object | None, lat: float | None,
                   lng: float | None) -> tuple[float, float, object | None, str]:
    if cell is not None:
        from .decisions import _cell_text, _layer_ids, cell_ids

        wanted = int(cell_ids([cell], "cell")[0])
        matches = np.flatnonzero(_layer_ids(layers.index) == np.uint64(wanted))
        if matches.size == 0:
            raise InputError(f"`cell` {_cell_text(wanted)} is not a cell of the layer table; "
                             "click inside the region or give `lat` and `lng`.")
        row = int(matches[0])
        cell_lat, cell_lng = frame_to_lat_lng(layers.iloc[[row]], "layers")
        return float(cell_lat[0]), float(cell_lng[0]), layers.index[row], _cell_text(wanted)
    if lat is None or lng is None:
        raise InputError("Give the site as `cell`, or as `lat` and `lng`.")
    if not (np.isfinite(lat) and np.isfinite(lng) and -90 <= lat <= 90 and -180 <= lng <= 180):
        raise InputError(f"`lat`, `lng` = {lat!r}, {lng!r} is not a position; give decimal "
                         "degrees (latitude first, e.g. 22.54, 114.06).")
    return float(lat), float(lng), _nearest_cell(layers, lat, lng), f"{lat:.5f}, {lng:.5f}"


def _nearest_cell(layers: pd.DataFrame, lat: float, lng: float) -> object | None:
    from .decisions import snap_points_to_rows

    try:
        row = snap_points_to_rows(layers, np.array([lat]), np.array([lng]))[0]
    except InputError:
        return None
    return layers.index[int(row)]


def _dense_column(matrix: sp.csr_array) -> np.ndarray:
    return np.asarray(matrix.sum(axis=1), float).ravel()


def _row_totals(matrix: sp.csr_array) -> np.ndarray:
    return np.asarray(matrix.sum(axis=1), float).ravel()
