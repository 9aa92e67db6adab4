"""The trade optimisation as Clarabel's matrices, built with numpy (the fast path; no cvxpy).

The same problem as the cvxpy reference in ``optimizer`` (stated in ``problem``), laid out for
the interior-point method's linear algebra:

- Risk, cash and turnover see one variable per security: its sell variable (the lot's own
  variable when it has one movable lot, else ``s_i`` = the sum of its lots) and its buy.
- Without a net-gain budget, a security's lots are a piecewise-linear tax cost of ``s_i`` (sold
  cheapest first, which is then optimal): one row per distinct tax rate, and the lots are
  recovered after the solve.  With a budget every lot is a variable.  Either way lots are
  leaves of the KKT system, eliminated without fill, and exact (nothing pooled).
- The risk model is diagonal plus low rank: ``|E'a|^2`` through ``k`` auxiliary variables
  ``y = E'a`` (the only dense rows), the specific part on P's diagonal.
- Cash is one auxiliary variable: its penalty would otherwise be a dense rank-one block of P.

Variables, in order: x (lot variables) | s (sell sums) | tau (tax cost, piecewise-linear lots
only) | b (buys) | y (factors) | c (cash - target).

Each account gets a fresh solver: nothing of one solve reaches the next (Clarabel's in-place data
update keeps the scaling of the first data it saw, and would need identical sparsity anyway).
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass

import clarabel
import numpy as np
import scipy.sparse as sp

from .lookthrough import through_funds
from .lots import relieve_grouped
from .problem import (
    CASH_PENALTY,
    KAPPA,
    UNBOUNDED,
    Infeasible,
    ProblemData,
    Solution,
    free_variables,
    scaled_risk,
)

__all__ = ["QP", "Csc", "build_qp", "solve_qp", "Unsolved", "DEFAULT_SETTINGS"]

# Tight enough that the objective matches the reference formulation to ~1e-7 relative even when
# the optimum is close to zero (a model portfolio brought back to target).  Iterative refinement
# off halves the time per iteration (it was not needed on any test or benchmark account).  Two
# passes of equilibration (Clarabel's default is ten) add ~0.15 ms to a direct index's set-up and
# save a third of its iterations (median 17 instead of 27 on the bench's accounts; 19 with ten
# passes); a model portfolio takes 15 instead of 16.  A failed or inaccurate solve is retried
# without equilibration, then with refinement and full equilibration (``optimizer.FALLBACK_SOLVERS``).
DEFAULT_SETTINGS = {
    "tol_gap_abs": 1e-12,
    "tol_gap_rel": 1e-12,
    "tol_feas": 1e-10,
    "iterative_refinement_enable": False,
    "equilibrate_enable": True,
    "equilibrate_max_iter": 2,
}
# ``_csc`` places a dense block of at least this many entries instead of sorting it.
_PLACE_FROM = 1024
# Runs of a constant as ``repeat`` of a one-element array: a C method, where ``np.full`` and
# ``np.ones`` are Python wrappers that cost several times as much on a model portfolio's arrays.
_ONE, _MINUS_ONE, _NO_INDEX = np.ones(1), -np.ones(1), np.array([-1], dtype=np.int64)


class Unsolved(Exception):
    """One solver attempt failed or stopped without an optimal (or certified infeasible) answer."""

    def __init__(self, solver: str, status: str, message: str = ""):
        super().__init__(f"{solver}: {status}{' (' + message + ')' if message else ''}")
        self.solver = solver
        self.status = status


@dataclass(frozen=True, slots=True, eq=False)
class Csc:
    """A compressed-column matrix as Clarabel reads it (``data``, ``indices``, ``indptr``,
    ``shape``), held in memoryviews of numpy arrays: Clarabel's Python binding converts its
    arguments element by element, which is several times faster from a memoryview (or a list)
    than from a numpy array; a memoryview makes each element a Python object only while it is
    read, where a list builds them all first."""

    data: memoryview
    indices: memoryview
    indptr: memoryview
    shape: tuple[int, int]
    has_canonical_format: bool = True

    @property
    def nnz(self) -> int:
        return len(self.data)

    def toarray(self) -> np.ndarray:
        """The dense matrix (for tests)."""
        return sp.csc_matrix((self.data, self.indices, self.indptr), shape=self.shape).toarray()


def _csc(
    rows: np.ndarray,
    cols: np.ndarray,
    vals: np.ndarray,
    shape: tuple[int, int],
    top_cols: np.ndarray | None = None,
    top: np.ndarray | None = None,
    in_order: bool = False,
) -> Csc:
    """Compressed columns from distinct (row, col) entries listed in increasing row order
    within each column (a stable sort by column keeps them so; 16-bit keys sort in linear time).

    ``top`` (a row of ``k`` values for each of the distinct ``top_cols``) fills rows ``0..k-1``
    of those columns, above every listed entry: the dense factor block is placed, not sorted
    (on a direct index it is most of the matrix).  ``in_order``: the entries are sorted by column
    already (and no ``top``).
    """
    if in_order:
        indptr = np.zeros(shape[1] + 1, dtype=np.int64)
        np.bincount(cols, minlength=shape[1]).cumsum(out=indptr[1:])
        return Csc(memoryview(vals), memoryview(rows), memoryview(indptr), shape)
    if top is not None and top.size < _PLACE_FROM:
        # A small block costs fewer numpy calls listed first and sorted with the rest.
        k = top.shape[1]
        rows = np.concatenate((np.arange(k * len(top_cols)) % k, rows))
        cols = np.concatenate((top_cols.repeat(k), cols))
        vals = np.concatenate((top.ravel(), vals))
        top = None
    key = cols.astype(np.uint16) if shape[1] < 1 << 16 else cols
    order = key.argsort(kind="stable")
    listed = np.bincount(cols, minlength=shape[1])
    indptr = np.zeros(shape[1] + 1, dtype=np.int64)
    if top is None or not top.size:
        listed.cumsum(out=indptr[1:])
        return Csc(memoryview(vals[order]), memoryview(rows[order]), memoryview(indptr), shape)
    k = top.shape[1]
    head = np.zeros(shape[1], dtype=np.int64)
    head[top_cols] = k
    np.cumsum(listed + head, out=indptr[1:])
    data = np.empty(indptr[-1])
    indices = np.empty(indptr[-1], dtype=np.int64)
    # A listed entry's slot: its column's start, past the top rows, plus its rank in the column.
    first = indptr[:-1] + head - (np.cumsum(listed) - listed)
    slot = first[cols[order]] + np.arange(len(order))
    data[slot] = vals[order]
    indices[slot] = rows[order]
    top_slot = indptr[top_cols][:, None] + np.arange(k)
    data[top_slot] = top
    indices[top_slot] = np.arange(k)
    return Csc(memoryview(data), memoryview(indices), memoryview(indptr), shape)


@dataclass(frozen=True, slots=True, eq=False)
class QP:
    """``min 1/2 v'Pv + q'v  s.t.  A v + s = rhs, s in {0}^equalities x R+^rest``, and where the
    answer goes: ``lot_vars`` are the lots that are variables (the first ``len(lot_vars)``
    entries of ``v``), ``pooled`` the lots drawn cheapest first from their security's sell
    variable (``pooled_sum`` its column, ``pooled_order`` the order of relief), ``buys`` the
    securities bought from column ``buy_at`` on."""

    P: Csc
    q: np.ndarray
    A: Csc
    rhs: np.ndarray
    equalities: int
    fixed_x: np.ndarray
    lot_vars: np.ndarray
    pooled: np.ndarray
    pooled_sum: np.ndarray
    pooled_order: np.ndarray
    buys: np.ndarray
    buy_at: int
    buy_ub: np.ndarray


def _group_cumsum(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Running sums restarting at each index in ``starts`` (sorted, beginning with 0)."""
    total = np.cumsum(values)
    before = np.concatenate(([0.0], total))[starts]
    return total - np.repeat(before, np.diff(np.append(starts, len(values))))


def build_qp(data: ProblemData) -> QP:
    """Clarabel's matrices for ``data`` (see the module docstring for the layout).

    Written for few numpy calls: on a model portfolio every array is short, so the number of
    calls, not their size, is the cost.
    """
    n = len(data.w0)
    fixed_x, base, lots, buys = free_variables(data)
    cost = data.cost_rate
    b_room = base["b_room"]
    sec = data.lot_sec[lots]
    count = np.bincount(sec, minlength=n)
    sellers = count.nonzero()[0]
    grouped = sellers[count[sellers] > 1]
    alone = count[sec] == 1
    n_sellers, n_groups, n_buys = len(sellers), len(grouped), len(buys)
    # With a net-gain budget every lot is a variable (the budget weighs lots by gain, the
    # objective by tax); without one, a security's lots are a piecewise-linear tax cost of its
    # sell variable (cheapest first is then optimal), one row per distinct tax rate.
    budget = base["gain_room"] < UNBOUNDED / 2
    lot_vars = lots if budget else lots[alone]
    pooled = lots[:0] if budget else lots[~alone]
    nx = len(lot_vars)
    sum_at = nx
    tax_at = sum_at + n_groups
    buy_at = tax_at + (0 if budget else n_groups)
    y_at = buy_at + n_buys
    sell_col = np.zeros(n, dtype=np.int64)
    sell_col[grouped] = np.arange(sum_at, tax_at)
    sell_col[sec[alone]] = alone.nonzero()[0] if budget else np.arange(nx)

    # Trade columns: the security-level variables, each moving one security's weight by +-1.
    t_sec = np.concatenate((sellers, buys))
    t_col = np.concatenate((sell_col[sellers], np.arange(buy_at, y_at)))
    m = len(t_col)
    t_sign = _ONE.repeat(m)
    t_sign[:n_sellers] = -1.0
    exposures, specific = scaled_risk(data)
    M = data.lookthrough
    if M is None:
        active0 = base["w_base"] - data.reference
        # E'G: row j is sign_j E[sec_j]; G'WG is diagonal but for a security both sold and bought.
        GtE = exposures[t_sec] * t_sign[:, None]
        specific_t = specific[t_sec]
        qg = t_sign * specific_t * active0[t_sec]
        pos = _NO_INDEX.repeat(n)
        pos[sellers] = sell_col[sellers]
        both = (pos[buys] >= 0).nonzero()[0]
        p_row = np.concatenate((t_col, pos[buys[both]]))
        p_col = np.concatenate((t_col, buy_at + both))
        p_val = np.concatenate((specific_t, -specific[buys[both]]))
    else:
        active0 = M @ base["w_base"] - data.reference
        v = specific * active0
        GtE, qg, p_row, p_col, p_val = through_funds(M, t_sec, t_sign, exposures, v, specific)
        p_row, p_col = t_col[p_row], t_col[p_col]
        upper = p_row <= p_col
        p_row, p_col = np.where(upper, p_row, p_col), np.where(upper, p_col, p_row)
    # Factors no movable security loads on add a constant: left out.
    factors = (GtE.any(axis=0)).nonzero()[0]
    k = len(factors)
    GtE = GtE[:, factors]
    c_at = y_at + k
    nv = c_at + 1

    # Objective: 1/2 v'Pv + q'v is the objective less its constant.
    diag = np.arange(y_at, nv)
    p_row = np.concatenate((p_row, diag))
    p_col = np.concatenate((p_col, diag))
    p_val = np.concatenate((p_val, _ONE.repeat(k), [CASH_PENALTY])) * 2.0
    order = np.lexsort((p_row, p_col))
    P = _csc(p_row[order], p_col[order], p_val[order], (nv, nv), in_order=True)
    q = np.zeros(nv)
    q[t_col] = 2.0 * qg
    q[:nx] += KAPPA * (data.tax[lot_vars] + cost)
    q[buy_at:y_at] += KAPPA * cost

    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    vals: list[np.ndarray] = []
    rhs: list[np.ndarray] = []
    # Equalities: y = E'a (rows 0..k-1); c = cash - target (row k); with a budget, s_i = sum of
    # its lots (rows k+1...).
    # (The y rows' entries in the trade columns, -E'G, are the dense block ``_csc`` places.)
    rows += [np.arange(k + 1), np.arange(k, k + 1).repeat(m)]
    cols += [np.arange(y_at, nv), t_col]
    vals += [_ONE.repeat(k + 1), np.array((cost - 1.0, 1.0 + cost)).repeat((n_sellers, n_buys))]
    rhs += [exposures[:, factors].T @ active0, [base["cash_base"] - data.cash_target]]
    at = k + 1
    group_of = np.zeros(n, dtype=np.int64)
    group_of[grouped] = np.arange(n_groups)
    if budget and n_groups:
        in_group = (~alone).nonzero()[0]
        rows += [at + group_of[sec[in_group]], np.arange(at, at + n_groups)]
        cols += [in_group, np.arange(sum_at, tax_at)]
        vals += [_MINUS_ONE.repeat(len(in_group)), _ONE.repeat(n_groups)]
        rhs.append(np.zeros(n_groups))
        at += n_groups
    equalities = at

    # Inequalities (A v <= rhs).  Rows of one entry: lower and upper bounds, the cash floor,
    # minimum sales.
    minimum, minimum_rhs = lots[:0], []
    if data.s_lb.any():
        need = data.s_lb - base["fixed_each"]
        minimum = ((data.s_lb > 0) & (need > 0)).nonzero()[0]
        if len(minimum) and need[minimum[count[minimum] == 0]].max(initial=0.0) > 1e-9:
            raise Infeasible("a minimum sale has no lot to sell")
        minimum = minimum[count[minimum] > 0]
        minimum_rhs = -need[minimum]
    bounded = np.concatenate(
        (np.arange(nx), np.arange(sum_at, sum_at if budget else tax_at), np.arange(buy_at, y_at))
    )
    nb = len(bounded)
    pooled_group = group_of[data.lot_sec[pooled]]
    buy_room = b_room[buys]
    singles = 2 * nb + 1 + len(minimum)
    rows.append(np.arange(at, at + singles))
    cols.append(np.concatenate((bounded, bounded, [c_at], sell_col[minimum])))
    single_vals = _MINUS_ONE.repeat(singles)
    single_vals[nb : 2 * nb] = 1.0
    vals.append(single_vals)
    rhs += [
        np.zeros(nb),
        data.x_ub[lot_vars],
        [] if budget else np.bincount(pooled_group, weights=data.x_ub[pooled], minlength=n_groups),
        buy_room,
        [data.cash_target - data.cash_floor],
        minimum_rhs,
    ]
    at += singles
    if base["turnover_room"] < UNBOUNDED:
        rows.append(np.arange(at, at + 1).repeat(m))
        cols.append(t_col)
        vals.append(_ONE.repeat(m))
        rhs.append([base["turnover_room"]])
        at += 1
    if budget:
        rows.append(np.arange(at, at + 1).repeat(nx))
        cols.append(np.arange(nx))
        vals.append(data.gain[lot_vars])
        rhs.append([base["gain_room"]])
        at += 1
    pooled_order = pooled[:0]
    if len(pooled):
        # Tax cost of selling t of a security: lots cheapest first, so the cost is convex and
        # piecewise linear, the largest of the lines through its pieces (one per distinct rate):
        # rate t - tau <= rate T_end - F_end.  tau is scaled by 1/KAPPA, which keeps the pieces'
        # slopes near 1 (with KAPPA inside them the solver needed three times the iterations).
        group = pooled_group
        rate = data.tax[pooled]
        pooled_order = np.lexsort((rate, group))
        g, r, width = group[pooled_order], rate[pooled_order], data.x_ub[pooled][pooled_order]
        new_group = np.concatenate(([True], g[1:] != g[:-1]))
        starts = new_group.nonzero()[0]
        end_t = _group_cumsum(width, starts)
        end_f = _group_cumsum(width * r, starts)
        last = np.append(new_group[1:] | (r[1:] != r[:-1]), True)
        g, r = g[last], r[last]
        pieces = len(g)
        rows += [np.arange(at, at + pieces)] * 2
        cols += [sum_at + g, tax_at + g]
        vals += [r, _MINUS_ONE.repeat(pieces)]
        rhs.append(r * end_t[last] - end_f[last])
        at += pieces
        q[tax_at:buy_at] = KAPPA
        q[sum_at:tax_at] += KAPPA * cost
    A = _csc(np.concatenate(rows), np.concatenate(cols), np.concatenate(vals), (at, nv), t_col, -GtE)
    return QP(
        P,
        q,
        A,
        np.concatenate(rhs),
        equalities,
        fixed_x,
        lot_vars,
        pooled,
        sum_at + pooled_group,
        pooled_order,
        buys,
        buy_at,
        buy_room,
    )


@functools.lru_cache(maxsize=16)
def _settings(options: tuple[tuple[str, object], ...]) -> clarabel.DefaultSettings:
    """Clarabel's settings for ``options`` (name, value) pairs; the solver copies them."""
    settings = clarabel.DefaultSettings()
    settings.verbose = False
    for name, value in options:
        setattr(settings, name, value)
    return settings


# The fast path's key into ``_settings``, made once (a dict merge and a tuple per solve otherwise).
_DEFAULT_OPTIONS = tuple(DEFAULT_SETTINGS.items())
_OPTIMAL = {clarabel.SolverStatus.Solved: "optimal", clarabel.SolverStatus.AlmostSolved: "optimal_inaccurate"}
_INFEASIBLE = {clarabel.SolverStatus.PrimalInfeasible, clarabel.SolverStatus.AlmostPrimalInfeasible}


def solve_qp(data: ProblemData, options: dict | None = None, label: str = "CLARABEL") -> Solution:
    """Build and solve ``data`` with Clarabel (``options`` override ``DEFAULT_SETTINGS``).

    Raises ``Infeasible`` on a certified infeasibility and ``Unsolved`` when Clarabel stops with
    anything but solved / almost solved (the latter is reported as ``optimal_inaccurate``).
    """
    start = time.perf_counter()
    qp = build_qp(data)
    cones = [clarabel.ZeroConeT(qp.equalities), clarabel.NonnegativeConeT(len(qp.rhs) - qp.equalities)]
    try:
        settings = _settings(tuple({**DEFAULT_SETTINGS, **options}.items()) if options else _DEFAULT_OPTIONS)
        solver = clarabel.DefaultSolver(qp.P, memoryview(qp.q), qp.A, memoryview(qp.rhs), cones, settings)
        built = time.perf_counter()
        answer = solver.solve()
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # noqa: B036 - a Rust panic in the solver is a BaseException
        raise Unsolved(label, "failed", f"{type(exc).__name__}: {exc}") from exc
    solved = time.perf_counter()
    if answer.status in _INFEASIBLE:
        raise Infeasible(str(answer.status))
    status = _OPTIMAL.get(answer.status)
    if status is None:
        raise Unsolved(label, str(answer.status))
    v = np.asarray(answer.x)
    if not np.isfinite(v).all():
        raise Unsolved(label, "failed", "non-finite solution")
    x = qp.fixed_x.copy()
    # Into their bounds (solver noise); minimum/maximum rather than clip, which costs more here.
    x[qp.lot_vars] = np.minimum(np.maximum(v[: len(qp.lot_vars)], 0.0), data.x_ub[qp.lot_vars])
    if len(qp.pooled):
        # Each pooled security's sale drawn from its lots cheapest tax first.
        x[qp.pooled] = relieve_grouped(qp.pooled_sum, np.maximum(v, 0.0), data.x_ub[qp.pooled], qp.pooled_order)
    b = np.minimum(data.b_lb, UNBOUNDED)
    b[qp.buys] += np.minimum(np.maximum(v[qp.buy_at : qp.buy_at + len(qp.buys)], 0.0), qp.buy_ub)
    return Solution(x, b, status, built - start, solved - built, False, label)
