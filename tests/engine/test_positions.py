"""Per-security sums of lot values: the few-call path gives numpy's own sums, to the bit."""

import numpy as np
import pytest

from rebalancing.engine.positions import lot_sums


def _one_by_one(lot_sec, values, mask, n):
    """The deliberately simple reference: one masked numpy sum per security."""
    return np.array([values[mask & (lot_sec == i)].sum() for i in range(n)])


@pytest.mark.parametrize("seed", range(8))
def test_lot_sums_are_the_per_security_sums_to_the_bit(seed):
    # Given lots of securities holding 0 to 20 lots (sorted by security, as in a book), values
    # spread over orders of magnitude, and a random selection of them
    rng = np.random.default_rng(seed)
    n = 40
    lot_sec = np.repeat(np.arange(n), rng.integers(0, 21, n))
    values = rng.lognormal(0.0, 3.0, len(lot_sec))
    mask = rng.random(len(lot_sec)) < 0.7
    # When they are summed per security in a few calls
    totals = lot_sums(lot_sec, values, mask, n)
    # Then each total is numpy's own sum of that security's selected lots, bit for bit
    assert totals.tobytes() == _one_by_one(lot_sec, values, mask, n).tobytes()


def test_many_lots_of_one_security_are_summed_as_numpy_sums_them():
    # Given one security with 16 lots whose values make numpy's pairwise sum differ from a sum in
    # order (which is what bincount gives)
    rng = np.random.default_rng(3)
    lot_sec = np.zeros(16, dtype=np.int64)
    for _ in range(100):
        values = rng.lognormal(0.0, 3.0, 16)
        if np.bincount(lot_sec, weights=values)[0] != values.sum():
            break
    else:
        pytest.fail("no case found where the two sums differ")
    mask = np.ones(16, dtype=bool)
    # Then lot_sums gives numpy's sum, not the in-order one
    assert lot_sums(lot_sec, values, mask, 1)[0] == values.sum()


def test_no_lots_no_sums():
    assert lot_sums(np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0, dtype=bool), 3).tolist() == [0.0] * 3
