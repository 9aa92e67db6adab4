"""Lot selection: which lots a sale of N shares draws from.

- ``tax_optimal``: least tax first - short-term losses, long-term losses, then gains in order of
  tax per share (so long-term gains usually before short-term ones);
- ``highest_cost`` (HIFO): highest cost basis per share first;
- ``fifo``: oldest acquisition first (the IRS default when no lot is identified, Pub. 550).
"""

from __future__ import annotations

import numpy as np

__all__ = ["lot_priority", "relieve_grouped", "grouped_order", "reversed_in_groups"]

SORT_AGAIN_BELOW = 256


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


def reversed_in_groups(
    order: np.ndarray, group: np.ndarray, priority: np.ndarray, tie: np.ndarray
) -> np.ndarray:
    """``grouped_order(group, -priority, -tie)`` from ``order = grouped_order(group, priority,
    tie)``, without sorting again: each group's runs of equal (priority, tie) in reverse, the
    items of a run still by position."""
    n = len(order)
    # Below a few hundred items sorting again is cheaper (a dozen numpy calls cost more).
    if n < SORT_AGAIN_BELOW or np.isnan(priority).any():
        return grouped_order(group, -priority, -tie)
    g, p, t = group[order], priority[order], tie[order]
    new_group = np.ones(n, dtype=bool)
    np.not_equal(g[1:], g[:-1], out=new_group[1:])
    new_run = new_group.copy()
    new_run[1:] |= (p[1:] != p[:-1]) | (t[1:] != t[:-1])
    at = np.arange(n)

    def span(starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Start and end (exclusive) of the run each position is in."""
        first = at[starts]
        which = np.cumsum(starts) - 1
        return first[which], np.append(first[1:], n)[which]

    group_start, group_end = span(new_group)
    run_start, run_end = span(new_run)
    out = np.empty_like(order)
    out[group_start + group_end - run_end + (at - run_start)] = order
    return out


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
    before = cap.cumsum() - cap
    # Each item's group starts at its first item (``grp`` is sorted: found by bisection).
    start = before[grp.searchsorted(grp)]
    # minimum/maximum rather than clip: the same numbers, without clip's Python overhead.
    taken[order] = np.minimum(np.maximum(amount[grp] - (before - start), 0.0), cap)
    return taken
