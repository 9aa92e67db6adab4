"""The places where two lots of one security change order in the least-tax walk
(``lots._term_breakpoints``) are the same numbers, in the same order, whether a few dozen lots are
paired in plain Python or a book of hundreds with numpy."""

import numpy as np
import pytest

from rebalancing.engine import lots


@pytest.mark.parametrize("seed", range(20))
def test_python_and_numpy_pairings_agree_to_the_bit(seed, monkeypatch):
    # Given lots sorted by security, of both terms, gains and losses, some zero, some equal
    rng = np.random.default_rng(seed)
    n_lots = int(rng.integers(1, 60))
    sec = np.sort(rng.integers(0, int(rng.integers(1, 8)), n_lots))
    gain = np.round(rng.normal(0, 20, n_lots), int(rng.integers(0, 3)))
    gain[rng.random(n_lots) < 0.15] = 0.0
    long = rng.random(n_lots) < 0.5
    lo, hi = sorted(rng.uniform(0, 1, 2))
    # When paired in Python (a model portfolio's size) and with numpy (a direct index's)
    in_python = lots._term_breakpoints(sec, gain, long, lo, hi)
    monkeypatch.setattr(lots, "PAIR_IN_PYTHON_BELOW", 0)
    with_numpy = lots._term_breakpoints(sec, gain, long, lo, hi)
    # Then both give the same places of the same securities, in the same order
    assert in_python == with_numpy
    thetas, secs = in_python
    assert all(lo <= t <= hi for t in thetas) and all(isinstance(s, int) for s in secs)
