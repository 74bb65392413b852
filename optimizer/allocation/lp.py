r"""Prices for the lane dual from linear programs over the lanes' problems.

The volume algorithm of :mod:`optimizer.allocation.dual` levels off below the dual optimum:
on the 40 x 200 benchmark week its bound stays near 85,100-85,400 for thousands of steps,
while the prices of the linear program below give 86,382, against a proven optimum of 88,241.
Any prices give a valid bound, so these are simply evaluated by
:func:`optimizer.allocation.dual.evaluate`, and the volume algorithm goes on from whichever
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

HiGHS's dual simplex took 3-6 s on the benchmark weeks with 29,000 to 80,000 fill columns
(40 x 200, 80 x 120, 120 x 40, 100 x 50), but more than 30 s on the demo week's 92,000 and
356 s on 250 x 100's 335,000 (its interior point method was no faster), so :func:`lp_prices`
declines weeks above ``LP_MAX_FILLS``. Larger weeks rely on the block steps of
:mod:`optimizer.allocation.blocks`, which reach the bound these prices start from without a
program (on the small weeks the program's prices still start the bound higher).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .dual import LaneDual, Prices, SortedBlocks
from .model import ranges_from

LP_MAX_FILLS = 80_000
"""Most fill columns (segment shares filled by a lane arc or own surplus) :func:`lp_prices`
builds; larger weeks are left to the volume algorithm alone."""


@dataclass(frozen=True)
class LpPrices:
    """Row prices of the lane program, each lane's share of a truck there, and the solve."""

    prices: Prices
    lane_share: np.ndarray
    status: str
    seconds: float


def fill_count(dual: LaneDual) -> np.ndarray:
    """Count the receiver's segments worth filling from each lane arc.

    Per lane arc, how many of its receiver's segments are worth more than its unit cost
    (savings descend within a position, so these are the first ones).
    """
    blocks = SortedBlocks.of(dual, -dual.saving)
    return blocks.count_below(dual.arc_receiver, -dual.arc_unit_cost)


def lp_prices(dual: LaneDual, *, time_limit: float,
              max_fills: int | None = None) -> LpPrices | None:
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

    Returns
    -------
    LpPrices or None
        ``None`` when the week is too large or HiGHS returned no prices.
    """
    d = dual
    most = LP_MAX_FILLS if max_fills is None else max_fills
    if program_size(d) > most:
        return None
    program = _LaneProgram.build(d)
    started = time.perf_counter()
    solved = _solve(program.cost, program.col_upper, program.row_upper, program.matrix,
                    time_limit)
    seconds = time.perf_counter() - started
    if solved is None:
        return None
    row_price, col_value, status = solved
    rows = program.rows
    prices = Prices(
        cover=np.clip(row_price[rows["cover"]], 0.0, d.saving),
        supply=np.maximum(row_price[rows["supply"]], 0.0),
        throughput=_spread(np.maximum(row_price[rows["throughput"]], 0.0),
                           d.capped, len(d.throughput)),
        cross=max(float(row_price[rows["cross"]][0]), 0.0) if d.cross_share is not None else 0.0)
    return LpPrices(prices, np.clip(col_value[:len(d.lane_cost)], 0.0, 1.0), status, seconds)


def program_size(dual: LaneDual) -> int:
    """Return the number of fill columns of the lane program.

    Fill columns of the lane program: segment shares filled by a lane arc worth more than
    its unit cost, and shares a position fills from its own surplus.
    """
    return int(fill_count(dual).sum()) + int(dual.segment_count[dual.own_positions].sum())


@dataclass(frozen=True)
class _LaneProgram:
    """The lane program in HiGHS's form.

    The lane program's columns (truck shares, cases, fills, own fills) and rows, in HiGHS's
    form (``row <= row_upper``, ``0 <= column <= col_upper``); ``rows`` names the row ranges.
    """

    matrix: sp.csc_matrix
    cost: np.ndarray
    col_upper: np.ndarray
    row_upper: np.ndarray
    rows: dict[str, slice]

    @classmethod
    def build(cls, dual: LaneDual) -> _LaneProgram:
        """Return the program of the module docstring."""
        d = dual
        n_arcs, n_lanes = len(d.arc), len(d.lane_cost)
        n_segments, n_positions = len(d.saving), len(d.supply)
        fills = fill_count(d)
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
        rows, cols, values, named = [], [], [], {}
        upper: list[np.ndarray] = []

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
        cost = np.concatenate([d.lane_cost, d.arc_unit_cost * case, -d.saving[fill_segment],
                               -d.saving[own_segment]])
        col_upper = np.concatenate([np.ones(n_lanes), d.arc_most_cases.astype(float),
                                    np.ones(n_fills + n_own)])
        return cls(matrix, cost, col_upper, row_upper, named)


def _solve(cost: np.ndarray, col_upper: np.ndarray, row_upper: np.ndarray,
           matrix: sp.csc_matrix, time_limit: float,
           ) -> tuple[np.ndarray, np.ndarray, str] | None:
    """Solve the lane program with HiGHS's dual simplex.

    Minimise ``cost @ x`` over ``matrix @ x <= row_upper``, ``0 <= x <= col_upper`` with
    HiGHS's dual simplex; the rows' prices (minus their duals), the columns' values and the
    model status, or ``None`` when HiGHS returned no prices.
    """
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
            solver.modelStatusToString(solver.getModelStatus()))


def _spread(values: np.ndarray, index: np.ndarray, size: int) -> np.ndarray:
    full = np.zeros(size)
    full[index] = values
    return full
