"""The trade optimisation as Clarabel's matrices, built with numpy (the fast path; no cvxpy).

The same problem as the cvxpy reference in ``optimizer`` (stated in ``problem``), laid out for
the interior-point method's linear algebra:

- Lots enter through their bounds and one sum per security: a security with several movable
  lots gets a sell variable ``s_i = sum x_j`` (with one lot, the lot's variable is it).  Tax is
  linear in the lots; risk, cash and turnover see only security-level variables, so every lot is
  a leaf of the KKT system and is eliminated without fill.  The lots are exact (nothing pooled).
- The risk model is diagonal plus low rank: ``|E'a|^2`` through ``k`` auxiliary variables
  ``y = E'a`` (the only dense rows), the specific part on P's diagonal.
- Cash is one auxiliary variable: its penalty would otherwise be a dense rank-one block of P.

Variables, in order: x (movable lots) | s (sell sums) | b (buys) | y (factors) | c (cash - target).

Each account gets a fresh solver.  Clarabel can update a solver's data, but it keeps the
equilibration of the first data it saw, so a reused solver would make a result depend on what
the process solved before; building one costs less than a tenth of the solve.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import clarabel
import numpy as np
import scipy.sparse as sp

from .problem import (
    CASH_PENALTY,
    KAPPA,
    UNBOUNDED,
    Infeasible,
    ProblemData,
    Solution,
    folded,
    forced_sales,
    scaled_risk,
)

__all__ = ["QP", "Csc", "build_qp", "solve_qp", "Unsolved", "DEFAULT_SETTINGS"]

# Tight enough that the objective matches the reference formulation to ~1e-8 relative even when
# the optimum is close to zero (a model portfolio brought back to target); iterative refinement
# off halves the time per iteration and was not needed on any test or benchmark account (a
# failed or inaccurate solve is retried with it, see ``optimizer.FALLBACK_SOLVERS``).
DEFAULT_SETTINGS = {
    "tol_gap_abs": 1e-12,
    "tol_gap_rel": 1e-12,
    "tol_feas": 1e-10,
    "iterative_refinement_enable": False,
}
# A movable amount below this (fraction of account value) is not a variable.
MOVABLE = 1e-12


class Unsolved(Exception):
    """One solver attempt failed or stopped without an optimal (or certified infeasible) answer."""

    def __init__(self, solver: str, status: str, message: str = ""):
        super().__init__(f"{solver}: {status}{' (' + message + ')' if message else ''}")
        self.solver = solver
        self.status = status


@dataclass(frozen=True, slots=True, eq=False)
class Csc:
    """A compressed-column matrix as Clarabel reads it (``data``, ``indices``, ``indptr``,
    ``shape``), held in lists: Clarabel's Python binding converts its arguments element by
    element, which is several times faster from a list than from a numpy array."""

    data: list[float]
    indices: list[int]
    indptr: list[int]
    shape: tuple[int, int]
    has_canonical_format: bool = True

    @property
    def nnz(self) -> int:
        return len(self.data)

    def toarray(self) -> np.ndarray:
        """The dense matrix (for tests)."""
        return sp.csc_matrix((self.data, self.indices, self.indptr), shape=self.shape).toarray()


def _csc(rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, shape: tuple[int, int]) -> Csc:
    """Compressed columns from distinct (row, col) entries listed in increasing row order
    within each column (a stable sort by column keeps them so; 16-bit keys sort in linear time)."""
    key = cols.astype(np.uint16) if shape[1] < 1 << 16 else cols
    order = np.argsort(key, kind="stable")
    indptr = np.zeros(shape[1] + 1, dtype=np.int64)
    np.cumsum(np.bincount(cols, minlength=shape[1]), out=indptr[1:])
    return Csc(vals[order].tolist(), rows[order].tolist(), indptr.tolist(), shape)


@dataclass(frozen=True, slots=True, eq=False)
class QP:
    """``min 1/2 v'Pv + q'v  s.t.  A v + s = rhs, s in {0}^equalities x R+^rest`` and where the
    answer goes: ``lots``/``buys`` are the movable lots and securities, ``buy_at`` the first buy
    variable."""

    P: Csc
    q: np.ndarray
    A: Csc
    rhs: np.ndarray
    equalities: int
    lots: np.ndarray
    buys: np.ndarray
    buy_at: int
    fixed_x: np.ndarray
    lot_ub: np.ndarray
    buy_ub: np.ndarray


def build_qp(data: ProblemData) -> QP:
    """Clarabel's matrices for ``data`` (see the module docstring for the layout)."""
    n = len(data.w0)
    fixed, fixed_x = forced_sales(data)
    base = folded(data, fixed_x)
    lots = np.flatnonzero((data.x_ub > MOVABLE) & ~fixed)
    buys = np.flatnonzero(base["b_room"] > MOVABLE)
    n_lots, n_buys = len(lots), len(buys)
    sec = data.lot_sec[lots]
    count = np.bincount(sec, minlength=n)
    sellers = np.flatnonzero(count)
    summed = sellers[count[sellers] > 1]
    n_sums = len(summed)
    sell_col = np.zeros(n, dtype=np.int64)
    sell_col[summed] = n_lots + np.arange(n_sums)
    single = count[sec] == 1
    sell_col[sec[single]] = np.flatnonzero(single)
    buy_at = n_lots + n_sums
    y_at = buy_at + n_buys
    exposures, specific = scaled_risk(data)
    factors = np.flatnonzero(np.abs(exposures).sum(axis=0) > 0)
    E = exposures[:, factors]
    k = len(factors)
    c_at = y_at + k
    nv = c_at + 1

    # Trade columns: the security-level variables, each moving one security's weight by +-1.
    t_sec = np.concatenate((sellers, buys))
    t_col = np.concatenate((sell_col[sellers], buy_at + np.arange(n_buys)))
    t_sign = np.concatenate((-np.ones(len(sellers)), np.ones(n_buys)))
    m = len(t_col)
    M = data.lookthrough
    if M is None:
        active0 = base["w_base"] - data.reference
        # E'G: column j is sign_j E[sec_j]; G'WG is diagonal but for a security both sold and bought.
        EtG = E[t_sec] * t_sign[:, None]
        qg = t_sign * specific[t_sec] * active0[t_sec]
        pos = np.full(n, -1)
        pos[t_sec[: len(sellers)]] = t_col[: len(sellers)]
        both = buys[pos[buys] >= 0]
        both_b = buy_at + np.searchsorted(buys, both)
        p_row = np.concatenate((t_col, pos[both], both_b))
        p_col = np.concatenate((t_col, both_b, pos[both]))
        p_val = np.concatenate((specific[t_sec], -specific[both], -specific[both]))
    else:
        G = (M @ sp.csc_matrix((t_sign, (t_sec, np.arange(m))), shape=(n, m))).tocsc()
        active0 = M @ base["w_base"] - data.reference
        EtG = np.asarray(G.T @ E).reshape(m, k)
        qg = G.T @ (specific * active0)
        PG = (G.T @ sp.csc_matrix(G.multiply(specific[:, None]))).tocoo()
        p_row, p_col, p_val = t_col[PG.row], t_col[PG.col], PG.data

    # Objective: 1/2 v'Pv + q'v is the objective less its constant.
    upper = p_row <= p_col
    p_row = np.concatenate((p_row[upper], np.arange(y_at, nv)))
    p_col = np.concatenate((p_col[upper], np.arange(y_at, nv)))
    p_val = 2.0 * np.concatenate((p_val[upper], np.ones(k), [CASH_PENALTY]))
    order = np.lexsort((p_row, p_col))
    P = _csc(p_row[order], p_col[order], p_val[order], (nv, nv))
    q = np.zeros(nv)
    q[t_col] = 2.0 * qg
    q[:n_lots] += KAPPA * (data.tax[lots] + data.cost_rate)
    q[buy_at:y_at] += KAPPA * data.cost_rate

    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    vals: list[np.ndarray] = []
    rhs: list[np.ndarray] = []

    def add(r, c, v):
        rows.append(np.asarray(r, dtype=np.int64))
        cols.append(np.asarray(c, dtype=np.int64))
        vals.append(np.asarray(v, dtype=float))

    # Equalities: y = E'a; c = cash - target; s_i = sum of its lots.
    add(np.tile(np.arange(k), m), np.repeat(t_col, k), -EtG.ravel())
    add(np.arange(k), np.arange(y_at, c_at), np.ones(k))
    rhs.append(E.T @ active0)
    cost = data.cost_rate
    add(np.full(m + 1, k), np.append(t_col, c_at), np.concatenate((-(1 - cost) * np.ones(len(sellers)), (1 + cost) * np.ones(n_buys), [1.0])))
    rhs.append(np.array([base["cash_base"] - data.cash_target]))
    sum_row = np.zeros(n, dtype=np.int64)
    sum_row[summed] = k + 1 + np.arange(n_sums)
    pooled = np.flatnonzero(~single)
    add(sum_row[sec[pooled]], pooled, -np.ones(len(pooled)))
    add(k + 1 + np.arange(n_sums), n_lots + np.arange(n_sums), np.ones(n_sums))
    rhs.append(np.zeros(n_sums))
    equalities = k + 1 + n_sums

    # Inequalities (A v <= rhs): bounds, cash floor, turnover cap, net-gain budget, minimum sales.
    at = equalities
    bounded = np.concatenate((np.arange(n_lots), buy_at + np.arange(n_buys)))
    nb = len(bounded)
    lot_ub, buy_ub = data.x_ub[lots], base["b_room"][buys]
    add(at + np.arange(nb), bounded, -np.ones(nb))
    add(at + nb + np.arange(nb), bounded, np.ones(nb))
    rhs += [np.zeros(nb), lot_ub, buy_ub]
    at += 2 * nb
    add([at], [c_at], [-1.0])
    rhs.append(np.array([data.cash_target - data.cash_floor]))
    at += 1
    if base["turnover_room"] < UNBOUNDED:
        add(np.full(m, at), t_col, np.ones(m))
        rhs.append(np.array([base["turnover_room"]]))
        at += 1
    if base["gain_room"] < UNBOUNDED / 2:
        add(np.full(n_lots, at), np.arange(n_lots), data.gain[lots])
        rhs.append(np.array([base["gain_room"]]))
        at += 1
    need = data.s_lb - base["fixed_each"]
    minimum = np.flatnonzero((data.s_lb > 0) & (need > 0))
    if len(minimum):
        if (count[minimum] == 0).any() and need[minimum[count[minimum] == 0]].max() > 1e-9:
            raise Infeasible("a minimum sale has no lot to sell")
        minimum = minimum[count[minimum] > 0]
        add(at + np.arange(len(minimum)), sell_col[minimum], -np.ones(len(minimum)))
        rhs.append(-need[minimum])
        at += len(minimum)
    A = _csc(np.concatenate(rows), np.concatenate(cols), np.concatenate(vals), (at, nv))
    return QP(P, q, A, np.concatenate(rhs), equalities, lots, buys, buy_at, fixed_x, lot_ub, buy_ub)


def _settings(options: dict) -> clarabel.DefaultSettings:
    settings = clarabel.DefaultSettings()
    settings.verbose = False
    for name, value in options.items():
        setattr(settings, name, value)
    return settings


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
        settings = _settings({**DEFAULT_SETTINGS, **(options or {})})
        solver = clarabel.DefaultSolver(qp.P, qp.q.tolist(), qp.A, qp.rhs.tolist(), cones, settings)
        built = time.perf_counter()
        answer = solver.solve()
    except (ValueError, RuntimeError, ArithmeticError) as exc:  # malformed data, a panic
        raise Unsolved(label, "failed", str(exc)) from exc
    solved = time.perf_counter()
    if answer.status in _INFEASIBLE:
        raise Infeasible(str(answer.status))
    status = _OPTIMAL.get(answer.status)
    if status is None:
        raise Unsolved(label, str(answer.status))
    v = np.asarray(answer.x)
    x = qp.fixed_x.copy()
    x[qp.lots] = np.clip(v[: len(qp.lots)], 0.0, qp.lot_ub)
    b = np.minimum(data.b_lb, UNBOUNDED)
    b[qp.buys] += np.clip(v[qp.buy_at : qp.buy_at + len(qp.buys)], 0.0, qp.buy_ub)
    return Solution(x, b, status, built - start, solved - built, False, label)
