"""Lot selection: which lots a sale of N shares draws from.

- ``tax_optimal``: least tax first - short-term losses, long-term losses, then gains in order of
  tax per share (so long-term gains usually before short-term ones); then, for the shares each
  security sells, the lots that cost the year the least tax once Schedule D nets them with the
  year so far (``least_tax_candidates``: a loss or gain's rate depends on what it nets against);
- ``highest_cost`` (HIFO): highest cost basis per share first;
- ``fifo``: oldest acquisition first (the IRS default when no lot is identified, Pub. 550).
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np

__all__ = ["lot_priority", "relieve_grouped", "grouped_order", "reversed_in_groups", "least_tax_choice",
           "least_tax_by_corners"]

SORT_AGAIN_BELOW = 256
# Past this many places where two lots of one security change order, ``least_tax_choice`` finds the
# edge's corners directly (``least_tax_by_corners``) instead of walking every place (each place
# recomputes that security's lots: a direct index's names hold a few lots each, a fund bought every
# month for years hundreds).
WALK_PLACES = 64
# Below this many lots ``_term_breakpoints`` pairs them in plain Python (a model portfolio's few
# dozen: a fraction of the cost of a dozen numpy calls); the same numbers, in the same order.
PAIR_IN_PYTHON_BELOW = 256


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


def _term_breakpoints(
    lot_sec: np.ndarray, gain: np.ndarray, long: np.ndarray, lo: float, hi: float
) -> tuple[list[float], list[int]]:
    """The weights ``theta`` in ``[lo, hi]`` at which a security's short-term lot (gain per share
    ``g``, weighed ``theta * g``) and long-term lot (``h``, weighed ``(1 - theta) * h``) change
    places in the order of least weighted gain - ``theta = h / (g + h)``, for gains of one sign (a
    gain and a loss never change places) - and the security of each: short-term lots in order,
    each with its security's long-term lots in order (lots are sorted by security)."""
    if len(lot_sec) < PAIR_IN_PYTHON_BELOW:
        sec_l, gain_l, long_l = lot_sec.tolist(), gain.tolist(), long.tolist()
        long_gains: dict[int, list[float]] = {}
        for s, h, is_long in zip(sec_l, gain_l, long_l, strict=True):
            if is_long and h != 0:
                long_gains.setdefault(s, []).append(h)
        thetas, secs = [], []
        for s, g, is_long in zip(sec_l, gain_l, long_l, strict=True):
            if not is_long and g != 0:
                for h in long_gains.get(s, ()):
                    if g * h > 0 and lo <= (theta := h / (g + h)) <= hi:
                        thetas.append(theta)
                        secs.append(s)
        return thetas, secs
    st = (~long & (gain != 0)).nonzero()[0]
    lt = (long & (gain != 0)).nonzero()[0]
    if not len(st) or not len(lt):
        return [], []
    n = int(lot_sec.max()) + 1
    count = np.bincount(lot_sec[lt], minlength=n)
    first = count.cumsum() - count
    # Every (short-term lot, long-term lot) pair of one security.
    reps = count[lot_sec[st]]
    i = np.repeat(st, reps)
    j = lt[np.repeat(first[lot_sec[st]], reps) + np.arange(reps.sum()) - np.repeat(reps.cumsum() - reps, reps)]
    g, h = gain[i], gain[j]
    same = g * h > 0
    thetas, secs = h[same] / (g[same] + h[same]), lot_sec[i[same]]
    inside = (thetas >= lo) & (thetas <= hi)
    return thetas[inside].tolist(), secs[inside].tolist()


def least_tax_choice(
    lot_sec: np.ndarray,
    gain: np.ndarray,
    long: np.ndarray,
    tie: np.ndarray,
    need: np.ndarray,
    cap: np.ndarray,
    tax,
    fixed: tuple[float, float] = (0.0, 0.0),
) -> tuple[np.ndarray, float] | None:
    """Shares per lot selling ``need[s]`` of each security ``s`` (at most ``cap`` a lot) that cost
    the least ``tax(short, long)`` (a ``tax.RunTax``: Schedule D's netting of the run's net short-
    and long-term results, ``fixed`` plus the lots' gains, ``gain`` per share), and that tax; None
    when no security has a choice of lots.  Lots are sorted by security (``lot_sec``), as a
    book's are.

    Why these: the tax never falls as either term's result rises, so the least-tax choice is on
    the lower-left edge of the set of (short, long) results the choices reach - the choices that
    sell the least of ``theta * short + (1 - theta) * long`` for some ``theta``, each security
    taking its lots in the order of that weighted gain (ties to the oldest, ``tie``). Walking the
    edge as ``theta`` grows, the tax falls while ``theta`` is below the ratio ``a / (a + b)`` of the
    piece it is in (``a``, ``b``: that piece's short- and long-term marginal rates) and rises above
    it, so its least lies between the least and the largest ratio of the pieces
    (``tax.thetas``: 1/2 and the rates' own, for one return): at a corner of the edge in that
    stretch, or where the edge crosses a line between pieces (``tax.kinks``). Only securities
    with lots changing order inside the stretch move along it, so the walk over its corners
    recomputes one security's few lots at a time. Exact for fractional shares (the caller rounds
    to whole shares)."""
    fixed_given = fixed
    live = (cap > 0) & (need[lot_sec] > 0)
    n = len(need)
    have = np.bincount(lot_sec, weights=np.where(live, cap, 0.0), minlength=n)
    choice = (need > 0) & (have > need + 1e-9)
    pieces = tax.thetas
    if not np.count_nonzero(choice) or not pieces:
        return None
    # Lots of securities sold whole are no choice: their results join ``fixed``; the search runs
    # over the others' lots only.
    free = live & choice[lot_sec]
    whole_sale = live & ~free
    sure = np.where(whole_sale, cap * gain, 0.0)
    fixed = (fixed[0] + float(sure[~long].sum()), fixed[1] + float(sure[long].sum()))
    idx = free.nonzero()[0]
    sec, g, lg, tie_f, cap_f = lot_sec[idx], gain[idx], long[idx], tie[idx], cap[idx]
    short_lot = ~lg
    base = np.where(whole_sale, cap, 0.0)

    def greedy(theta: float) -> np.ndarray:
        """Each lot's take, every security taking its lots in the order of weighted gain at ``theta``."""
        return relieve_grouped(sec, need, cap_f, grouped_order(sec, np.where(lg, (1.0 - theta) * g, theta * g), tie_f))

    def full(take: np.ndarray) -> np.ndarray:
        out = base.copy()
        out[idx] = take
        return out

    # Securities whose lots keep their order for every ``theta`` between the pieces' least and
    # largest ratios take their lots as at any of them; the search runs over the others' lots.
    lo, hi = pieces[0], pieces[-1]
    thetas, theta_sec = _term_breakpoints(sec, g, lg, lo, hi)
    take0 = greedy(lo)
    realised = take0 * g
    if not thetas:
        return full(take0), tax(fixed[0] + float(realised[short_lot].sum()), fixed[1] + float(realised[lg].sum()))
    # (No security can have more places than there are: counting them is needed only past that.)
    if len(theta_sec) > WALK_PLACES and max(Counter(theta_sec).values()) > WALK_PLACES:
        # Many lots of one security (a fund bought every month for years): the walk would recompute
        # them at each of thousands of places; the edge's corners are few.
        return least_tax_by_corners(lot_sec, gain, long, tie, need, cap, tax, fixed_given)
    varies = np.zeros(n, dtype=bool)
    varies[theta_sec] = True
    vary = varies[sec]
    kept = np.where(vary, 0.0, realised)
    fixed = (fixed[0] + float(kept[short_lot].sum()), fixed[1] + float(kept[lg].sum()))
    base[idx[~vary]] = take0[~vary]
    idx = idx[vary]
    sec, g, lg, tie_f, cap_f = sec[vary], g[vary], lg[vary], tie_f[vary], cap_f[vary]
    # Walk the edge's corners, from the one before ``lo`` to the one after ``hi``: at each place
    # two lots change order only their security's take changes (a few lots, in plain Python).
    gl, ll, cl, tl, need_l = g.tolist(), lg.tolist(), cap_f.tolist(), tie_f.tolist(), need.tolist()
    members: dict[int, list[int]] = {}
    for j, s_ in enumerate(sec.tolist()):
        members.setdefault(s_, []).append(j)

    def sec_result(s_: int, theta: float) -> tuple[float, float]:
        left, short, long_ = need_l[s_], 0.0, 0.0
        for j in sorted(members[s_], key=lambda j: ((1.0 - theta) * gl[j] if ll[j] else theta * gl[j], tl[j], j)):
            q = min(cl[j], max(left, 0.0))
            left -= q
            if ll[j]:
                long_ += q * gl[j]
            else:
                short += q * gl[j]
        return short, long_

    # The corners at ``lo``, between each two places where lots change order, and at ``hi``.
    places = sorted({*thetas, lo, hi})
    at = [lo, *((u + v) / 2 for u, v in zip(places[:-1], places[1:], strict=True)), hi]
    changing: dict[float, set[int]] = {}
    for theta, s_ in zip(thetas, theta_sec, strict=True):
        changing.setdefault(theta, set()).add(s_)
    parts = {s_: sec_result(s_, lo) for s_ in members}
    short, long_ = fixed[0] + sum(p[0] for p in parts.values()), fixed[1] + sum(p[1] for p in parts.values())
    corners = [(short, long_)]
    for k, place in enumerate(places, start=1):
        for s_ in changing.get(place, ()):
            old, parts[s_] = parts[s_], sec_result(s_, at[k])
            short += parts[s_][0] - old[0]
            long_ += parts[s_][1] - old[1]
        corners.append((short, long_))
    # The least: a corner, or where an edge between two crosses a line between the tax's pieces.
    best_k, best_t, best_tax = 0, 0.0, math.inf
    lines = tax.kinks
    for k, (s_a, l_a) in enumerate(corners):
        here = tax(s_a, l_a)
        if here < best_tax:
            best_k, best_t, best_tax = k, 0.0, here
        if k == len(corners) - 1:
            break
        s_b, l_b = corners[k + 1]
        for a, b, c in lines:
            f_a, f_b = a * s_a + b * l_a - c, a * s_b + b * l_b - c
            if (f_a < 0 < f_b) or (f_b < 0 < f_a):
                t = f_a / (f_a - f_b)
                there = tax(s_a + t * (s_b - s_a), l_a + t * (l_b - l_a))
                if there < best_tax:
                    best_k, best_t, best_tax = k, t, there
    take = greedy(at[best_k])
    if best_t:
        take = (1 - best_t) * take + best_t * greedy(at[best_k + 1])
    return full(take), best_tax


def least_tax_by_corners(
    lot_sec: np.ndarray,
    gain: np.ndarray,
    long: np.ndarray,
    tie: np.ndarray,
    need: np.ndarray,
    cap: np.ndarray,
    tax,
    fixed: tuple[float, float] = (0.0, 0.0),
) -> tuple[np.ndarray, float] | None:
    """``least_tax_choice``'s answer (the same arguments, the same rule: the least ``tax`` lies on
    the lower-left edge of the reachable (short, long) results, between the pieces' least and
    largest ratios, at a corner or where an edge crosses a line between pieces), found by the
    edge's corners alone: a book of many lots (a household's withdrawal draws on every lot of its
    taxable accounts at once) has far more places where two lots change order than corners.

    Each corner is the greedy choice at some ``theta``; between two corners found, the ``theta``
    whose weighted result is equal at both either finds a corner below the edge between them or
    shows there is none (the bi-objective simplex's non-inferior set estimation, Cohon 1978).
    Exact for fractional amounts."""
    live = (cap > 0) & (need[lot_sec] > 0)
    have = np.bincount(lot_sec, weights=np.where(live, cap, 0.0), minlength=len(need))
    if not ((need > 0) & (have > need + 1e-9)).any() or not tax.thetas:
        return None
    cap = np.where(live, cap, 0.0)
    short_lot = ~long

    def greedy(theta: float) -> tuple[float, np.ndarray, float, float]:
        take = relieve_grouped(lot_sec, need, cap, grouped_order(lot_sec, np.where(long, (1.0 - theta) * gain, theta * gain), tie))
        realised = take * gain
        return theta, take, fixed[0] + float(realised[short_lot].sum()), fixed[1] + float(realised[long].sum())

    lo, hi = tax.thetas[0], tax.thetas[-1]
    first, last = greedy(lo), greedy(hi)
    tol = 1e-12 * max(1.0, float(np.abs(cap * gain).sum()))
    corners = {lo: first, hi: last}
    pending = [(first, last)]
    while pending:
        a, b = pending.pop()
        d_short, d_long = a[2] - b[2], a[3] - b[3]
        if d_short - d_long <= tol:  # one point, or a theta the stretch holds no corner at
            continue
        theta = -d_long / (d_short - d_long)
        if not a[0] < theta < b[0]:
            continue
        m = greedy(theta)
        if theta * m[2] + (1.0 - theta) * m[3] < theta * a[2] + (1.0 - theta) * a[3] - tol:
            corners[theta] = m
            pending += [(a, m), (m, b)]
    walk = [corners[t] for t in sorted(corners)]
    best_k, best_t, best_tax = 0, 0.0, math.inf
    for k, (_, _, s_a, l_a) in enumerate(walk):
        here = tax(s_a, l_a)
        if here < best_tax:
            best_k, best_t, best_tax = k, 0.0, here
        if k == len(walk) - 1:
            break
        _, _, s_b, l_b = walk[k + 1]
        for a_, b_, c in tax.kinks:
            f_a, f_b = a_ * s_a + b_ * l_a - c, a_ * s_b + b_ * l_b - c
            if (f_a < 0 < f_b) or (f_b < 0 < f_a):
                t = f_a / (f_a - f_b)
                there = tax(s_a + t * (s_b - s_a), l_a + t * (l_b - l_a))
                if there < best_tax:
                    best_k, best_t, best_tax = k, t, there
    take = walk[best_k][1]
    if best_t:
        take = (1 - best_t) * take + best_t * walk[best_k + 1][1]
    return take, best_tax
