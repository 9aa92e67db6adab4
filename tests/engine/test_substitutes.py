"""Harvest substitutes by correlation: worked cases (the closest mover wins; an equivalent, another
asset class or a flat series never does) and a deliberately simple second implementation (each
pair's correlation by the textbook formula, candidates filtered one by one) over random markets."""

import math
import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rebalancing.engine import InvalidRequest
from rebalancing.engine.substitutes import substitutes_by_correlation


def _market(seed=1, days=120):
    rng = np.random.default_rng(seed)
    common = rng.normal(0, 0.01, days)
    moves = {
        "VTI": common + rng.normal(0, 0.001, days),
        "ITOT": common + rng.normal(0, 0.001, days),  # nearly the same index: substantially identical
        "SCHB": common + rng.normal(0, 0.002, days),
        "IWM": 1.3 * common + rng.normal(0, 0.008, days),
        "BND": rng.normal(0, 0.003, days),
        "AGG": rng.normal(0, 0.003, days),
    }
    symbols = list(moves)
    closes = 100 * np.exp(np.cumsum(np.column_stack([moves[s] for s in symbols]), axis=0))
    classes = {"VTI": "us", "ITOT": "us", "SCHB": "us", "IWM": "us", "BND": "bonds", "AGG": "bonds"}
    return symbols, closes, classes


def test_the_closest_mover_outside_the_securitys_equivalence_group_and_of_its_asset_class_is_suggested():
    symbols, closes, classes = _market()
    got = substitutes_by_correlation(symbols, closes, asset_classes=classes, groups={})
    assert got["VTI"].substitute == "ITOT" and got["VTI"].correlation > 0.95
    # ITOT tracks the same index: a purchase of it would wash VTI's loss (Treas. Reg. §1.1091-1).
    grouped = substitutes_by_correlation(symbols, closes, asset_classes=classes,
                                         groups={"VTI": "total-us", "ITOT": "total-us"})
    assert grouped["VTI"].substitute == "SCHB" and grouped["ITOT"].substitute == "SCHB"
    assert grouped["BND"].substitute == "AGG"  # bonds for bonds, however the equity funds moved


def test_a_security_with_no_candidate_or_no_movement_gets_none():
    symbols, closes, classes = _market()
    closes[:, symbols.index("AGG")] = 50.0  # never moves
    got = substitutes_by_correlation(symbols, closes, asset_classes=classes, groups={}, wanted=["BND", "AGG", "XYZ"])
    assert got == {}


@pytest.mark.parametrize("closes, message", [
    (np.ones((2, 2)), "at least 3 days"),
    (np.array([[1.0, 2.0], [0.0, 2.0], [1.0, 2.0]]), "positive"),
    (np.array([[1.0, 2.0], [np.nan, 2.0], [1.0, 2.0]]), "positive"),
    (np.ones((3, 3)), "days x 2 securities"),
])
def test_closes_that_cannot_give_a_correlation_are_refused(closes, message):
    with pytest.raises(InvalidRequest, match=message):
        substitutes_by_correlation(["A", "B"], closes, asset_classes={}, groups={})


def simple_suggestions(symbols, closes, classes, groups):
    days = len(closes)
    out = {}
    returns = [[math.log(closes[d + 1][j] / closes[d][j]) for d in range(days - 1)] for j in range(len(symbols))]

    def corr(a, b):
        ma, mb = sum(a) / len(a), sum(b) / len(b)
        cov = sum((x - ma) * (y - mb) for x, y in zip(a, b, strict=True))
        va, vb = sum((x - ma) ** 2 for x in a), sum((y - mb) ** 2 for y in b)
        return None if va == 0 or vb == 0 else cov / math.sqrt(va * vb)

    for i, s in enumerate(symbols):
        best = None
        for j, t in enumerate(symbols):
            if i == j or classes.get(s) != classes.get(t):
                continue
            if groups.get(s) is not None and groups.get(s) == groups.get(t):
                continue
            c = corr(returns[i], returns[j])
            if c is None or corr(returns[i], returns[i]) is None:
                continue
            if best is None or c > best[1] + 1e-12:
                best = (t, c)
        if best is not None:
            out[s] = best
    return out


@settings(max_examples=int(os.environ.get("PROP_N", 100)), deadline=None)
@given(seed=st.integers(0, 10**6), n=st.integers(2, 7), days=st.integers(3, 40),
       classes=st.lists(st.sampled_from(["us", "intl"]), min_size=7, max_size=7),
       groups=st.lists(st.sampled_from([None, "g1", "g2"]), min_size=7, max_size=7))
def test_suggestions_agree_with_a_pair_by_pair_implementation(seed, n, days, classes, groups):
    rng = np.random.default_rng(seed)
    symbols = [f"S{i}" for i in range(n)]
    closes = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, (days, n)), axis=0))
    if n > 2:
        closes[:, 2] = 7.0  # a flat one now and then
    cls = dict(zip(symbols, classes, strict=False))
    grp = dict(zip(symbols, groups, strict=False))
    got = substitutes_by_correlation(symbols, closes, asset_classes=cls, groups=grp)
    expected = simple_suggestions(symbols, closes, cls, grp)
    assert set(got) == set(expected)
    for s, (t, c) in expected.items():
        assert got[s].correlation == pytest.approx(c, abs=1e-9)
        if got[s].substitute != t:  # only a tie within float noise may pick another, and an allowed one
            other = got[s].substitute
            assert cls[other] == cls[s] and (grp[s] is None or grp[other] != grp[s]) and other != s
            i, j = symbols.index(s), symbols.index(other)
            r = np.diff(np.log(closes), axis=0)
            assert np.corrcoef(r[:, i], r[:, j])[0, 1] == pytest.approx(c, abs=1e-9)
