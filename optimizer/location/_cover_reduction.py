r"""Classic set-cover reductions, applied to a fixpoint on the sparse client x site indicator.

For the cover problem :math:`\min \sum_j c_j y_j` s.t. :math:`\sum_{j \in N_i} y_j \ge 1`
(rows :math:`i` = clients that need cover, columns :math:`j` = allowed sites, :math:`S_j` the
rows site :math:`j` covers), three reductions keep at least one optimal cover:

* **essential columns**: a row with a single site :math:`N_i = \{j\}` fixes :math:`y_j = 1`;
  the rows :math:`j` covers leave the problem;
* **row dominance**: if :math:`N_k \subseteq N_i` every cover of row :math:`k` covers row
  :math:`i`, so row :math:`i` leaves (of identical rows one stays);
* **column dominance**: if :math:`S_j \subseteq S_l` and :math:`c_j \ge c_l`, any cover using
  :math:`j` stays a cover, no dearer, with :math:`l` instead, so column :math:`j` leaves (of
  identical columns of equal cost the first stays).

Each pass is a few sparse products (:math:`A A^T` for the rows, :math:`A^T A` for the columns);
passes repeat until nothing changes. A cover of the reduced problem plus the fixed sites is a
cover of the original one, and an optimal one is optimal there (Garfinkel & Nemhauser, 1972).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp


@dataclass(frozen=True)
class CoverReduction:
    """Result of :func:`reduce_cover`.

    Attributes
    ----------
    rows
        Boolean per row of the input: still needs cover in the reduced problem.
    columns
        Boolean per column: may still open in the reduced problem.
    fixed_open
        Boolean per column: opened by an essential row (not in ``columns``).
    passes
        Number of passes until the fixpoint.
    """

    rows: np.ndarray
    columns: np.ndarray
    fixed_open: np.ndarray
    passes: int


def _dominated(sizes: np.ndarray, product: sp.coo_array, cost: np.ndarray | None,
               drop_superset: bool) -> np.ndarray:
    """Return the sets that leave among pairs ``set(a) <= set(b)``, ``a != b``.

    ``product[a, b]`` counts the shared elements, so ``sizes[a] == product[a, b]`` means
    ``set(a) <= set(b)``. Rows (``drop_superset``): the superset ``b`` leaves. Columns (with
    ``cost``): the subset ``a`` leaves when ``b`` is no dearer. Of identical sets (of equal
    cost) the lowest index stays.
    """
    a, b, shared = product.row, product.col, product.data
    subset = (shared == sizes[a]) & (a != b)
    a, b = a[subset], b[subset]
    equal = sizes[a] == sizes[b]
    if drop_superset:
        return np.unique(b[~equal | (b > a)])
    assert cost is not None  # columns are compared by cost too
    cheaper = cost[b] < cost[a] - 1e-12
    same = np.abs(cost[b] - cost[a]) <= 1e-12
    drop = (cost[b] <= cost[a] + 1e-12) & (~equal | cheaper | (same & (a > b)))
    return np.unique(a[drop])


def reduce_cover(matrix: sp.csr_array, cost: np.ndarray) -> CoverReduction:
    """Apply essential-column, row- and column-dominance reductions until none applies.

    Parameters
    ----------
    matrix
        0/1 rows x columns sparse matrix: row ``i`` lists the columns that cover it. Every row
        must have at least one column.
    cost
        Cost of each column (all positive).

    Returns
    -------
    CoverReduction
        The rows and columns left and the columns fixed open.

    Examples
    --------
    Row 2 makes site 2 essential, which covers rows 1 and 2; sites 0 and 1 then cover the
    same row 0, so site 1 leaves and site 0 becomes essential:

    >>> a = sp.csr_array(np.array([[1, 1, 0], [1, 1, 1], [0, 0, 1]]))
    >>> r = reduce_cover(a, np.ones(3))
    >>> r.rows.tolist(), r.columns.tolist(), r.fixed_open.tolist()
    ([False, False, False], [False, False, False], [True, False, True])
    """
    n_rows, n_columns = matrix.shape
    base = sp.csr_array(matrix, dtype=np.int32, copy=True)
    base.data[:] = 1
    rows = np.ones(n_rows, dtype=bool)
    columns = np.ones(n_columns, dtype=bool)
    fixed = np.zeros(n_columns, dtype=bool)
    passes = 0
    while True:
        passes += 1
        changed = False
        row_index, column_index = np.flatnonzero(rows), np.flatnonzero(columns)
        sub = sp.csr_array(base[row_index][:, column_index])
        row_size = np.diff(sub.indptr)
        single = row_size == 1
        if single.any():  # essential columns
            essential = np.unique(sub[np.flatnonzero(single)].tocoo().col)
            fixed[column_index[essential]] = True
            columns[column_index[essential]] = False
            covered = np.asarray(sub[:, essential].sum(axis=1)).ravel() > 0
            rows[row_index[covered]] = False
            continue
        drop_rows = _dominated(row_size, (sub @ sub.T).tocoo(), None, True)
        if len(drop_rows):
            rows[row_index[drop_rows]] = False
            changed = True
            keep = np.ones(len(row_index), dtype=bool)
            keep[drop_rows] = False
            sub = sp.csr_array(sub[np.flatnonzero(keep)])
        subc = sp.csc_array(sub)
        column_size = np.diff(subc.indptr)
        empty = column_size == 0
        drop_columns = np.union1d(
            _dominated(column_size, (subc.T @ subc).tocoo(), cost[column_index], False),
            np.flatnonzero(empty),
        )
        if len(drop_columns):
            columns[column_index[drop_columns]] = False
            changed = True
        if not changed:
            return CoverReduction(rows, columns, fixed, passes)
