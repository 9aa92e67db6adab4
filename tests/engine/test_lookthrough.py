"""The trade columns through the look-through matrix: the few-call path is scipy's, to the bit."""

import numpy as np
import pytest
import scipy.sparse as sp

from rebalancing.engine import lookthrough
from rebalancing.engine.lookthrough import through_funds, through_funds_sparse
from rebalancing.engine.problem import scaled_risk
from rebalancing.engine.rebalancer import problem_data

from .seeded import direct_index


def assert_same_products(fast, sparse) -> None:
    assert fast[0].tobytes() == sparse[0].tobytes()  # G'E, signs of zeros included
    assert fast[1].tobytes() == sparse[1].tobytes()  # G'v
    entries = [
        sorted(zip(r.tolist(), c.tolist(), [v.hex() for v in vals.tolist()], strict=True))
        for r, c, vals in (fast[2:], sparse[2:])
    ]
    assert entries[0] == entries[1]  # the upper triangle of G'WG


def _trades(rng, n: int, sold: int, bought: int):
    t_sec = np.concatenate(
        (np.sort(rng.choice(n, sold, replace=False)), np.sort(rng.choice(n, bought, replace=False)))
    )
    return t_sec, np.concatenate((-np.ones(sold), np.ones(bought)))


@pytest.mark.parametrize("seed", range(4))
def test_a_replaced_fund_seen_through_its_benchmark(seed):
    # Given a direct index replacing a fund (identity plus the benchmark in the fund's column)
    data = problem_data(direct_index(seed, budget=bool(seed % 2)))
    exposures, specific = scaled_risk(data)
    M = data.lookthrough
    n = M.shape[0]
    rng = np.random.default_rng(seed)
    t_sec, t_sign = _trades(rng, n, n // 2, n // 3)
    v = specific * (M @ data.w0 - data.reference)
    # When both paths compute G'E, G'v and G'WG; then they agree bit for bit
    assert_same_products(
        through_funds(M, t_sec, t_sign, exposures, v, specific),
        through_funds_sparse(M, t_sec, t_sign, exposures, v, specific),
    )


@pytest.mark.parametrize("shape", ["two funds", "three trades on a row", "an empty column"])
def test_unusual_look_through_matrices(shape, monkeypatch):
    # Given two funds sharing constituents, a single entry that is not 1, explicit zeros
    rng = np.random.default_rng(7)
    n = 40
    dense = np.eye(n)
    dense[10:30, 0] = rng.uniform(0, 0.1, 20)
    dense[20:40, 1] = rng.uniform(0, 0.1, 20)
    dense[25, 1] = 0.0
    dense[3, 3] = 0.5
    dense[4, 5], dense[5, 5] = 0.7, 0.0
    if shape == "an empty column":
        dense[:, 7] = 0.0
    rows, cols = dense.nonzero()
    rows, cols = np.append(rows, [25, 5]), np.append(cols, [1, 5])  # explicit zeros, stored
    M = sp.csr_matrix((dense[rows, cols], (rows, cols)), shape=(n, n))
    assert M.nnz == len(rows)
    # Both funds, the entry that is not 1, a security sold and bought; and some others
    others = rng.choice(np.setdiff1d(np.arange(n), [4, 5]), 18, replace=False)
    sold, bought = np.union1d([0, 3, 5, 12], others[:10]), np.union1d([1, 3, 22], others[10:])
    if shape == "an empty column":
        sold = np.union1d(sold, [7])
    if shape == "three trades on a row":
        sold, bought = np.union1d(sold, [4]), np.union1d(bought, [4, 5])  # 4 and 5 both on row 4
    t_sec = np.concatenate((sold, bought))
    t_sign = np.concatenate((-np.ones(len(sold)), np.ones(len(bought))))
    exposures = rng.normal(size=(n, 5))
    exposures[::4] = 0.0
    specific = rng.uniform(0.01, 0.2, n)
    v = rng.normal(size=n)
    sparse = through_funds_sparse(M, t_sec, t_sign, exposures, v, specific)
    if shape == "two funds":
        # (the few-call path itself, not its fallback)
        monkeypatch.setattr(lookthrough, "through_funds_sparse", None)
    # When both paths compute; then they agree bit for bit
    assert_same_products(through_funds(M, t_sec, t_sign, exposures, v, specific), sparse)
