"""Lot selection: which lots a sale of N shares draws from.

- ``tax_optimal``: least tax first - short-term losses, long-term losses, then gains in order of
  tax per share (so long-term gains usually before short-term ones);
- ``highest_cost`` (HIFO): highest cost basis per share first;
- ``fifo``: oldest acquisition first (the IRS default when no lot is identified, Pub. 550).
"""

from __future__ import annotations

import numpy as np

__all__ = ["lot_priority", "relieve_grouped", "grouped_order"]


def lot_priority(
    method: str, lot_qty: np.ndarray, lot_basis: np.ndarray, lot_acquired: np.ndarray, tax_per_share: np.ndarray
) -> np.ndarray:
    """Each lot's place in the order ``method`` sells lots in (ascending; ties go to the oldest lot):
    ``tax_per_share`` for ``tax_optimal``, the acquisition date for ``fifo``, minus the cost
    basis per share for ``highest_cost``."""
    if method == "fifo":
        return lot_acquired.astype(float)
    if method == "highest_cost":
        with np.errstate(divide="ignore", invalid="ignore"):
            return -np.where(lot_qty > 0, lot_basis / lot_qty, 0.0)
    return tax_per_share


def grouped_order(group: np.ndarray, priority: np.ndarray, tie: np.ndarray) -> np.ndarray:
    """Permutation sorting items by ``group``, then ``priority``, then ``tie`` (all ascending),
    then by position (``lexsort`` is stable)."""
    return np.lexsort((tie, priority, group))


def relieve_grouped(
    group: np.ndarray, amount: np.ndarray, capacity: np.ndarray, order: np.ndarray
) -> np.ndarray:
    """Shares taken from each lot (item) to sell ``amount[g]`` of each security (group ``g``).

    Takes ``amount[g]`` from the items of each group ``g`` (``group`` gives each item's group),
    filling items up to ``capacity`` in ``order`` (a permutation sorted by group first).
    """
    taken = np.zeros(len(capacity))
    if not len(capacity):
        return taken
    cap = capacity[order]
    grp = group[order]
    before = np.cumsum(cap) - cap
    # Each item's group starts at the last position where the group changed (carried forward).
    first = np.ones(len(grp), dtype=bool)
    np.not_equal(grp[1:], grp[:-1], out=first[1:])
    start = before[np.maximum.accumulate(np.where(first, np.arange(len(grp)), 0))]
    # minimum/maximum rather than clip: the same numbers, without clip's Python overhead.
    taken[order] = np.minimum(np.maximum(amount[grp] - (before - start), 0.0), cap)
    return taken
