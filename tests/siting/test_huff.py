"""Huff gravity model: the textbook example, share invariants, sparse = dense, and the
cannibalisation accounting identities.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optimizer.errors import InputError
from optimizer.geometry import pairs_within_km
from optimizer.huff import (
    StorePoints,
    capture_by_candidate,
    capture_matrices,
    distance_matrix_km,
    huff_shares,
    network_capture,
    probability_matrix,
    share_matrix,
    store_sales,
    utility_matrix,
)


def _scatter(n: int, seed: int, spread: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return 22.5 + rng.uniform(0, spread, n), 114.0 + rng.uniform(0, spread, n)


def _stores(n: int, seed: int) -> StorePoints:
    lat, lng = _scatter(n, seed)
    size = np.random.default_rng(seed + 100).uniform(50, 500, n)
    return StorePoints.from_arrays(lat, lng, size, ids=np.array([f"s{seed}-{i}" for i in range(n)]))


def test_textbook_example() -> None:
    # Centre A: 20,000 sq ft at 3 miles; centre B: 40,000 sq ft at 4 miles; alpha 1, beta 2.
    shares = huff_shares(np.array([[3.0, 4.0]]), np.array([20000.0, 40000.0]), alpha=1, beta=2)
    assert shares.round(2).tolist() == [[0.47, 0.53]]
    assert shares[0, 0] == pytest.approx((20000 / 9) / (20000 / 9 + 40000 / 16))


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 6), st.integers(1, 5), st.floats(0.1, 3), st.floats(0.1, 3),
       st.integers(0, 10_000))
def test_shares_sum_to_one_and_grow_with_size(n_customers: int, n_stores: int, alpha: float,
                                              beta: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    distance = rng.uniform(0.5, 10, (n_customers, n_stores))
    size = rng.uniform(10, 1000, n_stores)
    shares = huff_shares(distance, size, alpha=alpha, beta=beta)
    assert np.allclose(shares.sum(axis=1), 1.0)
    bigger = size.copy()
    bigger[0] *= 2
    assert np.all(huff_shares(distance, bigger, alpha=alpha, beta=beta)[:, 0] >= shares[:, 0])


def test_out_of_reach_rows_have_zero_share() -> None:
    shares = huff_shares(np.array([[np.inf, np.inf], [1.0, np.inf]]), np.array([1.0, 1.0]))
    assert shares.tolist() == [[0.0, 0.0], [1.0, 0.0]]


def test_pairs_within_match_brute_force() -> None:
    lat, lng = _scatter(200, 1)
    slat, slng = _scatter(30, 2)
    slat[0], slng[0] = lat[0], lng[0]  # a coincident pair, distance 0
    rows, cols, dist = pairs_within_km(lat, lng, slat, slng, 3.0)
    full = distance_matrix_km(lat, lng, slat, slng)
    expected = set(zip(*np.nonzero(full <= 3.0), strict=True))
    assert set(zip(rows.tolist(), cols.tolist(), strict=True)) == expected
    assert np.allclose(dist, full[rows, cols])
    assert (0, 0) in expected


def test_sparse_cutoff_equals_dense_when_cutoff_covers_everything() -> None:
    lat, lng = _scatter(80, 3)
    stores = _stores(12, 4)
    dense = utility_matrix(lat, lng, stores).toarray()
    sparse = utility_matrix(lat, lng, stores, cutoff_km=1000.0).toarray()
    assert np.allclose(dense, sparse)
    shares = probability_matrix(utility_matrix(lat, lng, stores)).toarray()
    reference = huff_shares(distance_matrix_km(lat, lng, stores.lat, stores.lng),
                            stores.attractiveness, min_distance=0.3)
    assert np.allclose(shares, reference)


def test_store_sales_conserve_demand() -> None:
    lat, lng = _scatter(100, 5)
    demand = np.random.default_rng(5).uniform(0, 100, 100)
    stores = _stores(8, 6)
    assert store_sales(demand, lat, lng, stores).sum() == pytest.approx(demand.sum())
    # with a cutoff, cells with no store in reach are lost, never more than the demand
    assert store_sales(demand, lat, lng, stores, cutoff_km=1.0).sum() <= demand.sum() + 1e-9


class TestCannibalisation:
    def setup_method(self) -> None:
        self.lat, self.lng = _scatter(300, 7, spread=0.3)
        self.demand = np.random.default_rng(7).uniform(0, 1000, 300)
        self.own, self.comp, self.cand = _stores(6, 8), _stores(5, 9), _stores(20, 10)

    def test_identities(self) -> None:
        table = capture_by_candidate(self.demand, self.lat, self.lng, candidates=self.cand,
                                     own=self.own, competitors=self.comp, cutoff_km=5.0)
        parts = table["from_own"] + table["from_competitors"] + table["from_unserved"]
        assert np.allclose(table["gross_captured"], parts)
        assert np.allclose(table["net_gain"], table["gross_captured"] - table["from_own"])
        assert (table[["from_own", "from_competitors", "from_unserved"]] >= -1e-9).all().all()
        assert table["cannibalisation_rate"].between(0, 1).all()

    def test_matches_brute_force_before_and_after(self) -> None:
        options = {"cutoff_km": 5.0}
        table = capture_by_candidate(self.demand, self.lat, self.lng, candidates=self.cand,
                                     own=self.own, competitors=self.comp, **options)
        before = store_sales(self.demand, self.lat, self.lng,
                             StorePoints.concat(self.own, self.comp), **options)
        for j in (0, 7, 19):
            one = StorePoints(*(np.asarray(getattr(self.cand, f))[j:j + 1]
                                for f in ("lat", "lng", "attractiveness", "ids")))
            after = store_sales(self.demand, self.lat, self.lng,
                                StorePoints.concat(self.own, self.comp, one), **options)
            row = table.iloc[j]
            assert row["gross_captured"] == pytest.approx(after[-1])
            assert row["from_own"] == pytest.approx(before[:6].sum() - after[:6].sum())
            assert row["from_competitors"] == pytest.approx(before[6:].sum() - after[6:11].sum())

    def test_no_own_stores_means_no_cannibalisation(self) -> None:
        table = capture_by_candidate(self.demand, self.lat, self.lng, candidates=self.cand,
                                     competitors=self.comp)
        assert (table["from_own"] == 0).all()

    def test_candidate_on_top_of_identical_own_store_takes_half(self) -> None:
        own = StorePoints.from_arrays(np.array([22.6]), np.array([114.1]), 200.0)
        cand = StorePoints.from_arrays(np.array([22.6]), np.array([114.1]), 200.0)
        table = capture_by_candidate(self.demand, self.lat, self.lng, candidates=cand, own=own)
        assert table["from_own"].iloc[0] == pytest.approx(self.demand.sum() / 2)
        assert table["net_gain"].iloc[0] == pytest.approx(0.0, abs=1e-6)

    def test_network_capture_identities_and_totals(self) -> None:
        new = StorePoints(*(np.asarray(getattr(self.cand, f))[:4]
                            for f in ("lat", "lng", "attractiveness", "ids")))
        table = network_capture(self.demand, self.lat, self.lng, new=new, own=self.own,
                                competitors=self.comp, cutoff_km=5.0)
        parts = table["from_own"] + table["from_competitors"] + table["from_unserved"]
        assert np.allclose(table["gross_captured"], parts)
        after = store_sales(self.demand, self.lat, self.lng,
                            StorePoints.concat(self.own, self.comp, new), cutoff_km=5.0)
        assert np.allclose(table["gross_captured"], after[-4:])


def test_capture_matrices_give_huff_share() -> None:
    lat, lng = _scatter(40, 11)
    cand, comp = _stores(5, 12), _stores(3, 13)
    utility, competitor = capture_matrices(lat, lng, candidates=cand, competitors=comp)
    open_sites = [1, 3]
    share = utility[:, open_sites].sum(axis=1) / (competitor + utility[:, open_sites].sum(axis=1))
    direct = probability_matrix(utility_matrix(lat, lng, StorePoints.concat(
        StorePoints(*(np.asarray(getattr(cand, f))[open_sites]
                      for f in ("lat", "lng", "attractiveness", "ids"))), comp))).toarray()
    assert np.allclose(share, direct[:, :2].sum(axis=1))


def test_share_matrix_gives_huff_share_of_any_open_set() -> None:
    lat, lng = _scatter(60, 14)
    cand, comp = _stores(6, 15), _stores(4, 16)
    share = share_matrix(lat, lng, candidates=cand, competitors=comp, cutoff_km=4.0).toarray()
    assert ((share >= 0) & (share <= 1)).all()
    open_sites = [0, 2, 5]
    with np.errstate(divide="ignore", invalid="ignore"):  # share 1 = no competitor in reach
        ratio = share[:, open_sites] / (1 - share[:, open_sites])
        total = ratio.sum(axis=1)
        captured = np.where(np.isinf(total), 1.0, total / (1 + total))
    chosen = StorePoints(*(np.asarray(getattr(cand, f))[open_sites]
                           for f in ("lat", "lng", "attractiveness", "ids")))
    direct = probability_matrix(utility_matrix(lat, lng, StorePoints.concat(chosen, comp),
                                               cutoff_km=4.0)).toarray()[:, :3].sum(axis=1)
    assert np.allclose(captured, direct)


def test_errors_name_the_argument() -> None:
    with pytest.raises(InputError, match="`beta`"):
        huff_shares(np.ones((1, 1)), np.ones(1), beta=-1)
    with pytest.raises(InputError, match="`attractiveness` must be positive"):
        StorePoints.from_arrays(np.array([22.0]), np.array([114.0]), 0.0)
    with pytest.raises(InputError, match="`demand` has 2 values for 1"):
        store_sales(np.ones(2), np.array([22.0]), np.array([114.0]), _stores(2, 0))
