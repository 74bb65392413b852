r"""Prices for the lane dual from linear programs over the lanes' problems.

The volume algorithm of :mod:`optimizer.allocation_dual` levels off below the dual optimum:
on the 40 x 200 benchmark week its bound stays near 85,100-85,400 for thousands of steps,
while the prices of the linear program below give 86,382, against a proven optimum of 88,241.
Any prices give a valid bound, so these are simply evaluated by
:func:`optimizer.allocation_dual.evaluate`, and the volume algorithm goes on from whichever
start is higher.

The program relaxes each lane's problem of the lane dual (open it for one truck, then whole
cases per SKU filling unit segments) to a polytope. With :math:`y_\ell` the share of lane
:math:`\ell`'s truck, :math:`n_e` the cases on lane arc :math:`e` (receiver :math:`r`, case
:math:`a_e`, at most :math:`M_e` cases, unit cost :math:`c_e`), :math:`x_{ej}` the share of
unit segment :math:`j` of :math:`r` it fills and :math:`o_j` the share a position fills from
its own surplus:

.. math::

    \min\; & \textstyle\sum_\ell F_\ell y_\ell + \sum_e c_e a_e n_e
             - \sum_{e,j} g_j x_{ej} - \sum_j g_j o_j \\
    \text{s.t.}\; & \textstyle\sum_e x_{ej} + o_j \le 1 && \text{cover } (\lambda_j) \\
    & \textstyle\sum_{e \text{ from } p} a_e n_e + \sum_{j \text{ of } p} o_j \le s_p
      && \text{supply } (\mu_p) \\
    & \textstyle\sum_{e \text{ from } w} a_e n_e \le T_w && \text{throughput } (\nu_w) \\
    & \textstyle\sum_e a_e n_e\, (\chi_e - \rho) \le 0 && \text{cross-region share } (\kappa) \\
    & x_{ej} \le y_\ell,\quad n_e \le M_e y_\ell,\quad \textstyle\sum_j x_{ej} \le a_e n_e,
      \quad x_{ej} \le n_e

The last row holds at every whole number of cases and makes the program strong: a segment is
filled no further than the first case is shipped (without it the bound at its prices on that
week is 68,173). A row for the last case (it fills only the segments left) added little
(86,396 with it) and was left out.

An arc gets a column for each segment worth more than its unit cost (:func:`fill_count`).
The program is then a restriction of the lanes' polytopes, so only its row prices are used,
and those are evaluated exactly.

:func:`lp_prices` solves the whole program with HiGHS's dual simplex. That took 3-6 s on the
benchmark weeks with 29,000 to 80,000 fill columns (40 x 200, 80 x 120, 120 x 40, 100 x 50),
but more than 30 s on the demo week's 92,000 and 356 s on 250 x 100's 335,000 (its interior
point method was no faster), so it declines weeks above ``LP_MAX_FILLS``. There
:func:`cover_prices` solves the program with the supply, throughput and cross-region rows
priced (the volume algorithm's prices): it falls apart into one program per receiving
location, small enough for the simplex (about 3 s for the demo week, 17 s for 250 x 100), and
its cover prices are the best for those other prices.

That program also gets a column for the segments an arc's last whole case fills beyond those
that pay, at no extra price: without them those segments are priced 0 and the Lagrangian fills
them free, and on the demo week the bound at its prices was 2,600 below the program's own
value (131,221 against 133,803; with them 131,706 against 131,472). The whole program is left
without them: its prices then bound lower (86,382 against 86,733 on 40 x 200), but it solves
in half the time and the steps from there end better (100 x 50: gap 0.89 % against 1.83 %,
where the steps stalled sooner; 40 x 200: 3.42 % against 3.47 %).
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from optimizer.allocation_dual import LaneDual, Prices, SortedBlocks, coupling_price
from optimizer.allocation_model import ranges_from

LP_MAX_FILLS = 80_000
"""Most fill columns (segment shares filled by a lane arc or own surplus) :func:`lp_prices`
builds; larger weeks are left to the volume algorithm alone."""


@dataclass(frozen=True)
class LpPrices:
    """Row prices of the lane program, each lane's share of a truck there, and the solve.

    ``value`` is the program's optimum plus the Lagrangian's constant terms (NaN unless every
    part was solved to optimality). The program keeps only fills that can pay, so this is not
    a bound; the bound is :func:`optimizer.allocation_dual.evaluate` at ``prices``, which is
    at least ``value`` when the program's prices are optimal.
    """

    prices: Prices
    lane_share: np.ndarray
    status: str
    seconds: float
    value: float = np.nan
    next_group: int = 0
    """:func:`cover_prices`: the group the next call should start from (0 once all were
    solved)."""


def fill_count(dual: LaneDual, prices: Prices | None = None) -> np.ndarray:
    """Per lane arc, how many of its receiver's segments are worth more than the arc's price
    per unit: its unit cost, plus the sender's supply price and the coupling prices when
    ``prices`` are given (savings descend within a position, so these are the first ones)."""
    blocks = SortedBlocks.of(dual, -dual.saving)
    return blocks.count_below(dual.arc_receiver, -_arc_price(dual, prices))


def lp_prices(dual: LaneDual, *, time_limit: float, max_fills: int | None = None,
              size: int | None = None) -> LpPrices | None:
    """Solve the lane program (module docstring) and return its row prices.

    Parameters
    ----------
    dual
        The lane Lagrangian's arrays.
    time_limit
        Seconds for HiGHS; prices from a stopped simplex are still valid, only lower.
    max_fills
        Returns ``None`` (nothing built) when the program would have more fill columns
        (default ``LP_MAX_FILLS``, read at each call).
    size
        :func:`program_size`, when the caller has it already.

    Returns
    -------
    LpPrices or None
        ``None`` when the week is too large or HiGHS returned no prices.
    """
    d = dual
    most = LP_MAX_FILLS if max_fills is None else max_fills
    if (program_size(d) if size is None else size) > most:
        return None
    program = _LaneProgram.build(d, None)
    started = time.perf_counter()
    solved = _solve(program.cost, program.col_upper, program.row_upper, program.matrix,
                    time_limit)
    seconds = time.perf_counter() - started
    if solved is None:
        return None
    row_price, col_value, status, objective = solved
    rows = program.rows
    prices = Prices(
        cover=np.clip(row_price[rows["cover"]], 0.0, d.saving),
        supply=np.maximum(row_price[rows["supply"]], 0.0),
        throughput=_spread(np.maximum(row_price[rows["throughput"]], 0.0),
                           d.capped, len(d.throughput)),
        cross=max(float(row_price[rows["cross"]][0]), 0.0) if d.cross_share is not None else 0.0)
    value = d.baseline + objective if status == "Optimal" else np.nan
    return LpPrices(prices, np.clip(col_value[:len(d.lane_cost)], 0.0, 1.0), status, seconds,
                    value)


def program_size(dual: LaneDual) -> int:
    """Fill columns of the lane program: segment shares filled by a lane arc worth more than
    its unit cost, and shares a position fills from its own surplus."""
    return int(fill_count(dual).sum()) + int(dual.segment_count[dual.own_positions].sum())


def cover_prices(dual: LaneDual, prices: Prices, *, time_limit: float,
                 first_group: int = 0) -> LpPrices:
    """Best cover prices for the given supply, throughput and cross-region prices.

    With those rows priced, the lane program falls apart into one program per receiving
    location (every lane delivers to one), solved in groups of about ``GROUP_COLUMNS``
    columns by HiGHS's dual simplex, from ``first_group`` on (and round to the start). The
    cover rows' prices replace ``prices.cover``; groups not solved within ``time_limit`` keep
    theirs, and ``next_group`` says where a later call should go on. The other prices are
    returned unchanged.

    Returns
    -------
    LpPrices
        ``status`` counts the groups by HiGHS's model status.
    """
    d = dual
    started = time.perf_counter()
    deadline = started + time_limit
    program = _LaneProgram.build(d, prices)
    ordered, col_order, row_order, col_starts, row_starts = program.blocks()
    cover = prices.cover.copy()
    lane_share = np.zeros(len(d.lane_cost))
    statuses: Counter[str] = Counter()
    capped = d.capped
    value = (d.baseline - float(prices.supply @ d.supply)
             - float(prices.throughput[capped] @ d.throughput[capped]))
    first_cover, last_cover = program.rows["cover"].start, program.rows["cover"].stop
    n_groups = len(col_starts) - 1
    unsolved: list[int] = []
    for offset in range(n_groups):
        group = (first_group + offset) % n_groups
        if time.perf_counter() > deadline:
            statuses["not solved"] += 1
            value = np.nan
            unsolved.append(group)
            continue
        col_first, col_last = col_starts[group], col_starts[group + 1]
        row_first, row_last = row_starts[group], row_starts[group + 1]
        cols, rows = col_order[col_first:col_last], row_order[row_first:row_last]
        block = ordered[:, col_first:col_last]
        block = sp.csc_matrix((block.data, block.indices - row_first, block.indptr),
                              shape=(row_last - row_first, col_last - col_first))
        solved = _solve(program.cost[cols], program.col_upper[cols], program.row_upper[rows],
                        block, deadline - time.perf_counter())
        if solved is None:
            statuses["no prices"] += 1
            value = np.nan
            unsolved.append(group)
            continue
        row_price, col_value, status, objective = solved
        statuses[status] += 1
        value += objective if status == "Optimal" else np.nan
        on_cover = (rows >= first_cover) & (rows < last_cover)
        segment = rows[on_cover] - first_cover
        cover[segment] = np.clip(row_price[on_cover], 0.0, d.saving[segment])
        is_lane = cols < len(d.lane_cost)
        lane_share[cols[is_lane]] = np.clip(col_value[is_lane], 0.0, 1.0)
    repriced = Prices(cover=cover, supply=prices.supply, throughput=prices.throughput,
                      cross=prices.cross)
    status = ", ".join(f"{count} {name}" for name, count in sorted(statuses.items()))
    return LpPrices(repriced, lane_share, status, time.perf_counter() - started, value,
                    unsolved[0] if unsolved else 0)


GROUP_COLUMNS = 2_000
"""Columns per HiGHS call in :func:`cover_prices` (whole receiving locations; the demo week's
136,000 columns took 2.5 s in groups of 1,000 or 2,000, 2.6 s in groups of 5,000 and 6.0 s
at once)."""


@dataclass(frozen=True)
class _LaneProgram:
    """The lane program's columns (truck shares, cases, fills, own fills) and rows, in HiGHS's
    form (``row <= row_upper``, ``0 <= column <= col_upper``); ``rows`` names the row ranges."""

    matrix: sp.csc_matrix
    cost: np.ndarray
    col_upper: np.ndarray
    row_upper: np.ndarray
    rows: dict[str, slice]
    col_block: np.ndarray | None
    """Per column, the block it belongs to (only without the coupling rows, else ``None``)."""

    @classmethod
    def build(cls, dual: LaneDual, fixed: Prices | None) -> _LaneProgram:
        """The whole program (``fixed`` is ``None``) or, with supply, throughput and
        cross-region priced at ``fixed``, the program without those rows."""
        d = dual
        n_arcs, n_lanes = len(d.arc), len(d.lane_cost)
        n_segments, n_positions = len(d.saving), len(d.supply)
        arc_price = _arc_price(d, fixed)
        fills = fill_count(d, fixed)
        if fixed is not None:
            # Whole cases: the last case fills the next segments too, at no extra price.
            # Without their columns those segments are priced 0 and filled free.
            fills = np.minimum(-(-fills // d.arc_case) * d.arc_case,
                               d.segment_count[d.arc_receiver])
        own = d.own_positions
        own_count = d.segment_count[own]
        fill_arc = np.repeat(np.arange(n_arcs), fills)
        fill_segment = ranges_from(d.segment_start[d.arc_receiver], fills)
        own_segment = ranges_from(d.segment_start[own], own_count)
        n_fills, n_own = len(fill_arc), len(own_segment)
        col_n, col_x = n_lanes, n_lanes + n_arcs
        col_o = col_x + n_fills
        n_cols = col_o + n_own
        arc_cols, x_cols = col_n + np.arange(n_arcs), col_x + np.arange(n_fills)
        own_cols = col_o + np.arange(n_own)
        lane_cols = d.arc_lane
        case = d.arc_case.astype(float)
        rows, cols, values, upper, named = [], [], [], [], {}

        def add_rows(name: str, count: int, row_upper: np.ndarray | float) -> int:
            first = sum(len(u) for u in upper)
            upper.append(np.broadcast_to(np.asarray(row_upper, dtype=float), (count,)))
            named[name] = slice(first, first + count)
            return first

        def add(first: int, row: np.ndarray, col: np.ndarray, value: np.ndarray | float) -> None:
            rows.append(first + row)
            cols.append(col)
            values.append(np.broadcast_to(np.asarray(value, dtype=float), row.shape))

        cover = add_rows("cover", n_segments, 1.0)
        add(cover, fill_segment, x_cols, 1.0)
        add(cover, own_segment, own_cols, 1.0)
        if fixed is None:
            supply = add_rows("supply", n_positions, d.supply)
            add(supply, d.arc_sender, arc_cols, case)
            add(supply, d.segment_position[own_segment], own_cols, 1.0)
            capped = d.capped
            throughput = add_rows("throughput", len(capped), d.throughput[capped])
            row_of_origin = np.full(len(d.throughput), -1)
            row_of_origin[capped] = np.arange(len(capped))
            limited = np.flatnonzero(row_of_origin[d.arc_origin] >= 0)
            add(throughput, row_of_origin[d.arc_origin[limited]], arc_cols[limited],
                case[limited])
            if d.cross_share is not None:
                cross = add_rows("cross", 1, 0.0)
                add(cross, np.zeros(n_arcs, dtype=np.int64), arc_cols,
                    case * (d.arc_cross - d.cross_share))
        # The lane's truck share bounds every fill and every case; cases bound the fills.
        fill_rows = np.arange(n_fills)
        linked = add_rows("linked", n_fills, 0.0)
        add(linked, fill_rows, x_cols, 1.0)
        add(linked, fill_rows, lane_cols[fill_arc], -1.0)
        arc_rows = np.arange(n_arcs)
        trucked = add_rows("trucked", n_arcs, 0.0)
        add(trucked, arc_rows, arc_cols, 1.0)
        add(trucked, arc_rows, lane_cols, -d.arc_most_cases.astype(float))
        packed = add_rows("packed", n_arcs, 0.0)
        add(packed, fill_arc, x_cols, 1.0)
        add(packed, arc_rows, arc_cols, -case)
        in_cases = np.flatnonzero(case[fill_arc] > 1)
        first_case = add_rows("first case", len(in_cases), 0.0)
        add(first_case, np.arange(len(in_cases)), x_cols[in_cases], 1.0)
        add(first_case, np.arange(len(in_cases)), arc_cols[fill_arc[in_cases]], -1.0)

        row_upper = np.concatenate(upper)
        matrix = sp.csc_matrix(
            (np.concatenate(values), (np.concatenate(rows), np.concatenate(cols))),
            shape=(len(row_upper), n_cols))
        own_price = 0.0 if fixed is None else fixed.supply[d.segment_position[own_segment]]
        cost = np.concatenate([d.lane_cost, arc_price * case, -d.saving[fill_segment],
                               own_price - d.saving[own_segment]])
        col_upper = np.concatenate([np.ones(n_lanes), d.arc_most_cases.astype(float),
                                    np.ones(n_fills + n_own)])
        col_block = None
        if fixed is not None:
            # Receiving positions joined by their lanes: the blocks of the program without
            # the supply, throughput and cross-region rows.
            graph = sp.coo_matrix((np.ones(n_arcs), (d.arc_receiver, n_positions + d.arc_lane)),
                                  shape=(n_positions + n_lanes,) * 2)
            component = connected_components(graph, directed=False)[1]
            lane_block = component[n_positions:]
            col_block = np.concatenate([lane_block, lane_block[d.arc_lane],
                                        lane_block[d.arc_lane[fill_arc]],
                                        component[d.segment_position[own_segment]]])
        return cls(matrix, cost, col_upper, row_upper, named, col_block)

    def blocks(self) -> tuple[sp.csc_matrix, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The matrix with rows and columns ordered by groups of whole blocks of about
        ``GROUP_COLUMNS`` columns (rows with no column left out), so that each group is one
        diagonal block; then its column and row orders and each group's first column and row
        (with the ends appended)."""
        by_row = self.matrix.tocsr()
        used = np.flatnonzero(np.diff(by_row.indptr) > 0)
        row_block = self.col_block[by_row.indices[by_row.indptr[used]]]
        size = np.bincount(self.col_block)
        group_of_block = np.unique((np.cumsum(size) - size) // GROUP_COLUMNS,
                                   return_inverse=True)[1]
        col_group, row_group = group_of_block[self.col_block], group_of_block[row_block]
        col_order = np.argsort(col_group, kind="stable")
        by_group = np.argsort(row_group, kind="stable")
        row_order = used[by_group]
        groups = np.arange(group_of_block.max() + 2)
        col_starts = np.searchsorted(col_group[col_order], groups)
        row_starts = np.searchsorted(row_group[by_group], groups)
        ordered = self.matrix[row_order][:, col_order].tocsc()
        return ordered, col_order, row_order, col_starts, row_starts


def _arc_price(dual: LaneDual, prices: Prices | None) -> np.ndarray:
    """Per unit on each lane arc: its unit cost, plus the sender's supply price and the
    coupling prices when ``prices`` are given."""
    if prices is None:
        return dual.arc_unit_cost
    return dual.arc_unit_cost + prices.supply[dual.arc_sender] + coupling_price(dual, prices)


def _solve(cost: np.ndarray, col_upper: np.ndarray, row_upper: np.ndarray,
           matrix: sp.csc_matrix, time_limit: float,
           ) -> tuple[np.ndarray, np.ndarray, str, float] | None:
    """Minimise ``cost @ x`` over ``matrix @ x <= row_upper``, ``0 <= x <= col_upper`` with
    HiGHS's dual simplex; the rows' prices (minus their duals), the columns' values, the
    model status and the objective, or ``None`` when HiGHS returned no prices."""
    import highspy

    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = len(cost), len(row_upper)
    lp.col_cost_ = cost
    lp.col_lower_ = np.zeros(len(cost))
    lp.col_upper_ = col_upper
    lp.row_lower_ = np.full(len(row_upper), -np.inf)
    lp.row_upper_ = row_upper
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = matrix.indptr
    lp.a_matrix_.index_ = matrix.indices
    lp.a_matrix_.value_ = matrix.data
    solver = highspy.Highs()
    solver.setOptionValue("output_flag", False)
    solver.setOptionValue("time_limit", float(max(time_limit, 0.0)))
    solver.passModel(lp)
    solver.run()
    if solver.getInfo().dual_solution_status == 0:  # no prices at all
        return None
    solution = solver.getSolution()
    # A row "<= upper" of a minimisation has a price of minus its (non-positive) dual.
    return (-np.asarray(solution.row_dual), np.asarray(solution.col_value),
            solver.modelStatusToString(solver.getModelStatus()),
            float(solver.getInfo().objective_function_value))


def _spread(values: np.ndarray, index: np.ndarray, size: int) -> np.ndarray:
    full = np.zeros(size)
    full[index] = values
    return full
