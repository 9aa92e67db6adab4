"""The convex trade optimisation (cvxpy + Clarabel).

Variables are fractions of account value: ``x`` sold per lot, ``b`` bought per security, and an
explicit active-weight variable ``a = M (w0 - S x + b) - reference`` (``S`` maps lots to
securities, ``M`` looks replaced funds through to their benchmark).  Minimise

    |E' a|^2 + |sqrt(spec) * a|^2 + cash_penalty (cash - target)^2 + kappa (tax' x + cost traded)

(risk terms scaled by a 20%-volatility reference variance) subject to lot and buy bounds, the
cash floor, a turnover cap and the net-gain budget.  Taxes and costs are a tie-breaker
(``KAPPA``): how far to move is decided by hard budgets, which are the client's parameters.
Scaling to fractions and the explicit active variable keep Clarabel fast and accurate (a
formulation in shares and dollars was 9x slower and could stop at a wrong optimum).

Small accounts reuse a compiled, parameterised (DPP) problem per shape: lots are padded to a
fixed number of slots per security so the lot->security map is a constant of the shape (as a
dense parameter it is catastrophically slow to canonicalise).  Large accounts build a fresh
problem on constants, keeping only variables that can move.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

import cvxpy as cp
import numpy as np
import scipy.sparse as sp

from .errors import SolverFailed

__all__ = [
    "KAPPA",
    "CASH_PENALTY",
    "OBJECTIVE_SCALE",
    "REFERENCE_VARIANCE",
    "ProblemData",
    "Solution",
    "Infeasible",
    "solve",
    "clear_cache",
    "cache_info",
]

KAPPA = 1e-3
CASH_PENALTY = 1.0
# Clarabel converges in fewer iterations when the optimal value is not ~1e-4.
OBJECTIVE_SCALE = 1.0
REFERENCE_VARIANCE = 0.04
UNBOUNDED = 10.0
DPP_MAX_SLOTS = 1024
DPP_MAX_SECURITIES = 128
CACHE_SIZE = 32


@dataclass(frozen=True, slots=True, eq=False)
class ProblemData:
    """Numbers of one optimisation, all fractions of account value.

    Lot arrays (``lot_sec``, ``x_lb``, ``x_ub``, ``tax``, ``gain``) must be sorted by security.
    ``tax``: objective cost per unit sold (rate x gain / value); ``gain``: net gain per unit sold
    counted against ``budget``.  ``math.inf`` means no budget / no turnover cap.
    """

    lot_sec: np.ndarray
    w0: np.ndarray
    reference: np.ndarray
    lookthrough: sp.csr_matrix | None
    exposures: np.ndarray
    specific: np.ndarray
    x_lb: np.ndarray
    x_ub: np.ndarray
    tax: np.ndarray
    gain: np.ndarray
    b_lb: np.ndarray
    b_ub: np.ndarray
    s_lb: np.ndarray
    cash0: float
    cash_floor: float
    cash_target: float
    cost_rate: float
    budget: float
    max_turnover: float


@dataclass(frozen=True, slots=True)
class Solution:
    """Optimal sales per lot (``x``) and buys per security (``b``), fractions of account value."""

    x: np.ndarray
    b: np.ndarray
    status: str
    compile_seconds: float
    solve_seconds: float
    cached: bool


class Infeasible(Exception):
    """The constraints cannot all hold (the caller finds which parameters conflict)."""


def _bucket(value: int, smallest: int) -> int:
    return max(smallest, 1 << max(0, math.ceil(math.log2(max(value, 1)))))


@dataclass(slots=True, eq=False)
class _Compiled:
    problem: cp.Problem
    params: dict[str, cp.Parameter]
    x: cp.Variable
    b: cp.Variable
    lock: threading.Lock


_CACHE: OrderedDict[tuple[int, int, int], _Compiled] = OrderedDict()
_CACHE_LOCK = threading.Lock()


def clear_cache() -> None:
    """Forget the compiled problems of this process."""
    with _CACHE_LOCK:
        _CACHE.clear()


def cache_info() -> dict[str, int]:
    """Number of compiled shapes held and the cap."""
    return {"size": len(_CACHE), "max_size": CACHE_SIZE}


def _objective_and_constraints(p, x, b, S, E, M, n: int, *, lower_bounds: bool, fixed_sold=0.0):
    """The formulation shared by both paths; ``p`` maps names to Parameters or constants.

    With ``lower_bounds`` the variables are bounded below by ``x_lb``/``b_lb`` (>= 0) instead of
    being declared non-negative, so each bound costs one row, not two.
    """
    a = cp.Variable(n)
    bought_each = E @ b if E is not None else b
    w = p["w0"] - S @ x + bought_each - p.get("fixed_each", 0.0)
    held = M @ w if M is not None else w
    sold, bought = cp.sum(x) + fixed_sold, cp.sum(b)
    traded = sold + bought
    cash = p["cash0"] + sold - bought - p["cost"] * traded
    constraints = [
        a == held - p["reference"],
        x <= p["x_ub"],
        b <= p["b_ub"],
        cash >= p["floor"],
        traded <= 2 * p["turnover"],
        p["gain"] @ x + p.get("fixed_gain", 0.0) <= p["budget"],
    ]
    if lower_bounds:
        constraints += [x >= p["x_lb"], b >= p["b_lb"], S @ x >= p["s_lb"]]
    else:
        for key, expr in (("b_min", b), ("s_min", S @ x)):
            if key in p:
                rows, values = p[key]
                constraints.append(expr[rows] >= values)
    objective = OBJECTIVE_SCALE * (
        cp.sum_squares(p["exposures"].T @ a)
        + cp.sum_squares(cp.multiply(p["sqrt_spec"], a))
        + CASH_PENALTY * cp.square(cash - p["cash_target"])
        + KAPPA * (p["tax"] @ x + p.get("fixed_tax", 0.0) + p["cost"] * traded)
    )
    return cp.Problem(cp.Minimize(objective), constraints)


def _compile_shape(n: int, slots: int, k: int) -> _Compiled:
    nl = n * slots
    params = {
        "w0": cp.Parameter(n),
        "reference": cp.Parameter(n),
        "exposures": cp.Parameter((n, k)),
        "sqrt_spec": cp.Parameter(n, nonneg=True),
        "x_lb": cp.Parameter(nl),
        "x_ub": cp.Parameter(nl),
        "tax": cp.Parameter(nl),
        "gain": cp.Parameter(nl),
        "b_lb": cp.Parameter(n),
        "b_ub": cp.Parameter(n),
        "s_lb": cp.Parameter(n),
        "cash0": cp.Parameter(),
        "floor": cp.Parameter(),
        "cash_target": cp.Parameter(),
        "cost": cp.Parameter(nonneg=True),
        "budget": cp.Parameter(),
        "turnover": cp.Parameter(),
    }
    x = cp.Variable(nl)
    b = cp.Variable(n)
    # Slot j belongs to security j // slots: a constant of the shape.
    S = sp.csr_matrix((np.ones(nl), (np.repeat(np.arange(n), slots), np.arange(nl))), shape=(n, nl))
    problem = _objective_and_constraints(params, x, b, S, None, None, n, lower_bounds=True)
    assert problem.is_dcp(dpp=True), "the cached formulation must be DPP"
    return _Compiled(problem, params, x, b, threading.Lock())


def _scaled(data: ProblemData) -> tuple[np.ndarray, np.ndarray]:
    scale = 1.0 / math.sqrt(REFERENCE_VARIANCE)
    return data.exposures * scale, np.sqrt(data.specific / REFERENCE_VARIANCE)


def _scalars(data: ProblemData) -> dict[str, float]:
    return {
        "cash0": data.cash0,
        "floor": data.cash_floor,
        "cash_target": data.cash_target,
        "cost": data.cost_rate,
        "budget": min(data.budget, UNBOUNDED),
        "turnover": min(data.max_turnover, UNBOUNDED),
    }


def _run(problem: cp.Problem) -> tuple[str, float, float]:
    start = time.perf_counter()
    try:
        problem.solve(solver=cp.CLARABEL)
    except cp.error.SolverError as exc:
        raise SolverFailed(
            f"the solver failed ({exc}); relax max_turnover or the tax budget, or retry",
            {"solver": "CLARABEL"},
        ) from exc
    wall = time.perf_counter() - start
    status = problem.status
    if status in (cp.INFEASIBLE, cp.INFEASIBLE_INACCURATE):
        raise Infeasible(status)
    if status not in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE):
        raise SolverFailed(
            f"the solver stopped with status {status!r}; relax max_turnover, the cash floor or the tax budget",
            {"status": status},
        )
    solve_s = problem.solver_stats.solve_time or 0.0
    return status, max(wall - solve_s, 0.0), solve_s


def _solve_cached(data: ProblemData) -> Solution:
    n = len(data.w0)
    nl = len(data.lot_sec)
    counts = np.bincount(data.lot_sec, minlength=n) if nl else np.zeros(n, dtype=np.int64)
    n_pad = _bucket(n, 8)
    slots = _bucket(int(counts.max()) if n else 1, 1)
    k_pad = _bucket(data.exposures.shape[1], 4)
    key = (n_pad, slots, k_pad)
    with _CACHE_LOCK:
        compiled = _CACHE.get(key)
        cached = compiled is not None
        if cached:
            _CACHE.move_to_end(key)
    if compiled is None:
        compiled = _compile_shape(n_pad, slots, k_pad)
        with _CACHE_LOCK:
            _CACHE[key] = compiled
            while len(_CACHE) > CACHE_SIZE:
                _CACHE.popitem(last=False)
    first = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=first[1:])
    slot = data.lot_sec * slots + (np.arange(nl) - first[data.lot_sec])

    def pad_sec(v: np.ndarray) -> np.ndarray:
        out = np.zeros(n_pad)
        out[:n] = v
        return out

    def pad_lot(v: np.ndarray) -> np.ndarray:
        out = np.zeros(n_pad * slots)
        out[slot] = v
        return out

    exposures, sqrt_spec = _scaled(data)
    e = np.zeros((n_pad, k_pad))
    e[:n, : exposures.shape[1]] = exposures
    values = {
        "w0": pad_sec(data.w0),
        "reference": pad_sec(data.reference),
        "exposures": e,
        "sqrt_spec": pad_sec(sqrt_spec),
        "x_lb": pad_lot(data.x_lb),
        "x_ub": pad_lot(data.x_ub),
        "tax": pad_lot(data.tax),
        "gain": pad_lot(data.gain),
        "b_lb": pad_sec(data.b_lb),
        "b_ub": pad_sec(np.minimum(data.b_ub, UNBOUNDED)),
        "s_lb": pad_sec(data.s_lb),
        **_scalars(data),
    }
    with compiled.lock:
        for name, value in values.items():
            compiled.params[name].value = value
        status, compile_s, solve_s = _run(compiled.problem)
        x = np.asarray(compiled.x.value)[slot]
        b = np.asarray(compiled.b.value)[:n]
    return Solution(x, b, status, compile_s, solve_s, cached)


def _solve_fresh(data: ProblemData) -> Solution:
    n = len(data.w0)
    start = time.perf_counter()
    fixed = (data.x_lb > 0) & (data.x_lb >= data.x_ub - 1e-15)
    free_x = np.flatnonzero((data.x_ub > 1e-12) & ~fixed)
    free_b = np.flatnonzero(data.b_ub > 1e-12)
    # Variables only where something can move; frozen lots, forced sales and unbuyable names
    # are constants.
    x = cp.Variable(max(len(free_x), 1), nonneg=True)
    b = cp.Variable(max(len(free_b), 1), nonneg=True)
    S = sp.csr_matrix(
        (np.ones(len(free_x)), (data.lot_sec[free_x], np.arange(len(free_x)))), shape=(n, x.size)
    )
    E = sp.csr_matrix((np.ones(len(free_b)), (free_b, np.arange(len(free_b)))), shape=(n, b.size))

    def lots(v: np.ndarray) -> np.ndarray:
        out = np.zeros(x.size)
        out[: len(free_x)] = v[free_x]
        return out

    def buys(v: np.ndarray) -> np.ndarray:
        out = np.zeros(b.size)
        out[: len(free_b)] = np.minimum(v[free_b], UNBOUNDED)
        return out

    exposures, sqrt_spec = _scaled(data)
    keep = np.flatnonzero(np.abs(exposures).sum(axis=0) > 0)
    fixed_x = np.where(fixed, data.x_lb, 0.0)
    p = {
        "w0": data.w0,
        "reference": data.reference,
        "exposures": exposures[:, keep] if len(keep) else np.zeros((n, 1)),
        "sqrt_spec": sqrt_spec,
        "x_ub": lots(data.x_ub),
        "b_ub": buys(data.b_ub),
        "tax": lots(data.tax),
        "gain": lots(data.gain),
        "fixed_each": np.bincount(data.lot_sec, weights=fixed_x, minlength=n),
        "fixed_tax": float(data.tax @ fixed_x),
        "fixed_gain": float(data.gain @ fixed_x),
        **_scalars(data),
    }
    b_min = buys(data.b_lb)
    if b_min.any():
        rows = np.flatnonzero(b_min > 0)
        p["b_min"] = (rows, b_min[rows])
    if data.s_lb.any():
        rows = np.flatnonzero(data.s_lb > 0)
        p["s_min"] = (rows, data.s_lb[rows] - p["fixed_each"][rows])
    problem = _objective_and_constraints(
        p, x, b, S, E, data.lookthrough, n, lower_bounds=False, fixed_sold=float(fixed_x.sum())
    )
    build_s = time.perf_counter() - start
    status, compile_s, solve_s = _run(problem)
    xs = fixed_x.copy()
    xs[free_x] = np.asarray(x.value)[: len(free_x)]
    bs = np.zeros(n)
    bs[free_b] = np.asarray(b.value)[: len(free_b)]
    return Solution(xs, bs, status, build_s + compile_s, solve_s, False)


def solve(data: ProblemData) -> Solution:
    """Solve one optimisation; raises ``Infeasible`` or ``SolverFailed``.

    Uses a cached compiled problem when the account is small and needs no look-through.
    """
    n = len(data.w0)
    nl = len(data.lot_sec)
    max_lots = int(np.bincount(data.lot_sec).max()) if nl else 1
    small = (
        data.lookthrough is None
        and _bucket(n, 8) <= DPP_MAX_SECURITIES
        and _bucket(n, 8) * _bucket(max_lots, 1) <= DPP_MAX_SLOTS
    )
    solution = _solve_cached(data) if small else _solve_fresh(data)
    x = np.clip(np.nan_to_num(solution.x), 0.0, None)
    b = np.clip(np.nan_to_num(solution.b), 0.0, None)
    return Solution(x, b, solution.status, solution.compile_seconds, solution.solve_seconds, solution.cached)
