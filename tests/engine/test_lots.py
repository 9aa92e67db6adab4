"""Lot orders: the dearest-first order derived from the cheapest-first one is the sorted one."""

import numpy as np
import pytest

from rebalancing.engine.lots import SORT_AGAIN_BELOW, grouped_order, reversed_in_groups


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("size", [0, 7, SORT_AGAIN_BELOW + 1, 2000])
def test_reversed_in_groups_is_the_dearest_first_sort(seed, size):
    # Given lots of a few securities with many equal priorities and dates (and zeros of both signs)
    rng = np.random.default_rng(seed)
    group = np.sort(rng.integers(0, max(1, size // 8), size))
    priority = rng.integers(-3, 4, size) * rng.choice([1.0, -1.0, 0.0], size)
    if seed % 2:
        priority = np.round(rng.normal(size=size), 1)
    tie = rng.integers(0, 4, size)
    cheapest_first = grouped_order(group, priority, tie)
    # When the dearest-first order is derived from the cheapest-first one
    derived = reversed_in_groups(cheapest_first, group, priority, tie)
    # Then it is the order sorting by the negated keys gives, ties still by position
    assert np.array_equal(derived, grouped_order(group, -priority, -tie))


def test_a_priority_that_is_not_a_number_sorts_again():
    group = np.zeros(SORT_AGAIN_BELOW + 4, dtype=np.int64)
    priority = np.linspace(0.0, 1.0, len(group))
    priority[3] = np.nan
    tie = np.zeros(len(group), dtype=np.int64)
    order = grouped_order(group, priority, tie)
    assert np.array_equal(
        reversed_in_groups(order, group, priority, tie), grouped_order(group, -priority, -tie)
    )
