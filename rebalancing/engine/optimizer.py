"""The convex trade optimisation (cvxpy + Clarabel).

Variables are fractions of account value: ``x`` sold per lot, ``b`` bought per security, and an
explicit active-weight variable ``a = M (w0 - S x + b) - reference`` (``S`` maps lots to
securities, ``M`` looks replaced funds through to their benchmark).  Minimise

    |E' a|^2 + |sqrt(spec) * a|^2 + cash_penalty (cash - target)^2 + kappa (tax' x + cost traded)

(risk terms scaled by a 20%-volatility reference variance) subject to lot and buy bounds, the
cash floor, a turnover cap and the net-gain budget.  Taxes and costs are a tie-breaker
(``KAPPA``): how far to move is decided by hard budgets, which are the client's parameters -
except for the lots of direct-indexed names, whose ``tax`` the caller (``limits``) multiplies by
``tax_weight(c)`` so that tax and tracking variance trade at the client's rate: ``c`` is
``trading.tracking_error_cost`` for a gain (tracking restored for a year) and a twelfth of it for a
harvest (tracking given up for a month, until the name may be bought back).  ``tax`` is 0 for a
loss lot that is not a harvest (no credit for slivers) and for a short-term lot whose gain is
still within the harvest threshold (swapped back while cheap).  No warm start: the same data gives
the same answer whatever the process solved before.
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
import warnings
from collections import OrderedDict
from dataclasses import dataclass, replace

import cvxpy as cp
import numpy as np
import scipy.sparse as sp

from .errors import SolverFailed
from .lots import grouped_order, relieve_grouped

__all__ = [
    "KAPPA",
    "tax_weight",
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
CACHE_SIZE = 64
# Lots of one security are pooled into at most this many tranches in the cached problem.
POOL_SLOTS = 4


def tax_weight(tracking_error_cost: float) -> float:
    """Multiplier of a lot's ``tax`` that makes ``tracking_error_cost`` percent of account value in
    tax weigh as much in the objective as (1%/yr)^2 of tracking variance."""
    return 1e-4 / REFERENCE_VARIANCE / (KAPPA * tracking_error_cost / 100)


@dataclass(frozen=True, slots=True, eq=False)
class ProblemData:
    """Numbers of one optimisation, all fractions of account value.

    Lot arrays (``lot_sec``, ``x_lb``, ``x_ub``, ``tax``, ``gain``) must be sorted by security;
    ``lot_pool`` says which lots of a security may be pooled (same holding term).
    ``tax``: objective cost per unit sold (rate x gain / value); ``gain``: net gain per unit sold
    counted against ``budget``.  ``math.inf`` means no budget / no turnover cap.
    """

    lot_sec: np.ndarray
    lot_pool: np.ndarray
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
    solver: str = "CLARABEL"
    attempts: int = 1


class Infeasible(Exception):
    """The constraints cannot all hold (the caller finds which parameters conflict)."""


def _bucket(value: int, smallest: int) -> int:
    return max(smallest, 1 << max(0, math.ceil(math.log2(max(value, 1)))))


def _shape(n: int, max_lots: int, factors: int) -> tuple[int, int, int]:
    """Padded (securities, lot tranches per security, factors) of the cached problem.

    Coarse enough that accounts of one model share a compiled problem, fine enough that padding
    does not double the solver's work (every slot costs two rows).
    """
    slots = 2 if max_lots <= 2 else POOL_SLOTS
    return -(-max(n, 1) // 8) * 8, slots, _bucket(factors, 4)


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


def _specific_risk(sqrt_spec, a):
    """Sum of specific variances times squared active weights.

    On constants a diagonal quadratic form goes straight into the solver's P matrix (no auxiliary
    variable and equality row per security); a parameterised one needs ``sum_squares`` for DPP.
    """
    if isinstance(sqrt_spec, cp.Parameter):
        return cp.sum_squares(cp.multiply(sqrt_spec, a))
    return cp.quad_form(a, sp.diags(np.square(sqrt_spec)), assume_PSD=True)


def _objective_and_constraints(p, x, b, S, E, M, n: int):
    """The formulation shared by both paths; ``p`` maps names to Parameters or constants.

    Forced sales and forced buys are folded into the constants (``w_base``, ``cash_base``,
    ``turnover_room``, ``gain_room``) so that each variable has exactly two bound rows and the
    cached problem stays DPP (no product of two parameters).
    """
    a = cp.Variable(n)
    w = p["w_base"] - S @ x + (E @ b if E is not None else b)
    held = M @ w if M is not None else w
    sold, bought = cp.sum(x), cp.sum(b)
    traded = sold + bought
    cash = p["cash_base"] + sold - bought - p["cost"] * traded
    constraints = [
        a == held - p["reference"],
        x <= p["x_ub"],
        b <= p["b_room"],
        cash >= p["floor"],
    ]
    # A fresh problem leaves out caps that cannot bind: each is a dense row in the KKT system.
    if isinstance(p["turnover_room"], cp.Parameter) or p["turnover_room"] < UNBOUNDED:
        constraints.append(traded <= p["turnover_room"])
    if isinstance(p["gain_room"], cp.Parameter) or p["gain_room"] < UNBOUNDED / 2:
        constraints.append(p["gain"] @ x <= p["gain_room"])
    if "s_lb" in p:
        constraints.append(S @ x >= p["s_lb"])
    objective = OBJECTIVE_SCALE * (
        cp.sum_squares(p["exposures"].T @ a)
        + _specific_risk(p["sqrt_spec"], a)
        + CASH_PENALTY * cp.square(cash - p["cash_target"])
        + KAPPA * (p["tax"] @ x + p["cost"] * traded)
    )
    return cp.Problem(cp.Minimize(objective), constraints)


def _compile_shape(n: int, slots: int, k: int) -> _Compiled:
    nl = n * slots
    params = {
        "w_base": cp.Parameter(n),
        "reference": cp.Parameter(n),
        "exposures": cp.Parameter((n, k)),
        "sqrt_spec": cp.Parameter(n, nonneg=True),
        "x_ub": cp.Parameter(nl),
        "tax": cp.Parameter(nl),
        "gain": cp.Parameter(nl),
        "b_room": cp.Parameter(n),
        "s_lb": cp.Parameter(n),
        "cash_base": cp.Parameter(),
        "floor": cp.Parameter(),
        "cash_target": cp.Parameter(),
        "cost": cp.Parameter(nonneg=True),
        "gain_room": cp.Parameter(),
        "turnover_room": cp.Parameter(),
    }
    x = cp.Variable(nl, nonneg=True)
    b = cp.Variable(n, nonneg=True)
    # Slot j belongs to security j // slots: a constant of the shape.
    S = sp.csr_matrix((np.ones(nl), (np.repeat(np.arange(n), slots), np.arange(nl))), shape=(n, nl))
    problem = _objective_and_constraints(params, x, b, S, None, None, n)
    assert problem.is_dcp(dpp=True), "the cached formulation must be DPP"
    return _Compiled(problem, params, x, b, threading.Lock())


def _scaled(data: ProblemData) -> tuple[np.ndarray, np.ndarray]:
    scale = 1.0 / math.sqrt(REFERENCE_VARIANCE)
    return data.exposures * scale, np.sqrt(data.specific / REFERENCE_VARIANCE)


# The fast path: Clarabel with its defaults.  When it fails, stops early (``user_limit``) or is
# inaccurate, the account is solved again as a fresh problem (exact lots, no padding) by each of
# these in turn until one is optimal: Clarabel with more iterations and a stronger static
# regularisation (which certified the degenerate infeasible problems the defaults failed on),
# then OSQP at tight tolerance, then SCS.  Rounding's clean-up follows whichever answers.
FAST_SOLVER = ("CLARABEL", {})
FALLBACK_SOLVERS: tuple[tuple[str, str, dict], ...] = (
    ("CLARABEL-retry", "CLARABEL", {"max_iter": 1000, "static_regularization_constant": 1e-6}),
    ("OSQP", "OSQP", {"eps_abs": 1e-7, "eps_rel": 1e-7, "max_iter": 20_000, "polishing": True}),
    ("SCS", "SCS", {"eps_abs": 1e-7, "eps_rel": 1e-7, "max_iters": 20_000}),
)


class _Unsolved(Exception):
    """One solver attempt failed or stopped without an optimal (or certified infeasible) answer."""

    def __init__(self, solver: str, status: str, message: str = ""):
        super().__init__(f"{solver}: {status}{' (' + message + ')' if message else ''}")
        self.solver = solver
        self.status = status


def _run(problem: cp.Problem, label: str, solver: str, options: dict | None = None):
    """Solve once; return (status, compile seconds, solve seconds).

    Raises ``Infeasible`` on a certified infeasibility and ``_Unsolved`` when the solver fails
    or stops with anything but optimal / optimal_inaccurate (the caller decides about the latter).
    """
    start = time.perf_counter()
    try:
        # No warm start: cvxpy would update the cached problem's Clarabel solver in place, whose
        # scaling comes from the first data it saw, so the answer depended on what the process
        # solved before.  cvxpy's own warnings are not for the user: statuses are handled here.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            problem.solve(solver=solver, warm_start=False, **(options or {}))
    except (cp.error.SolverError, ArithmeticError, ValueError) as exc:
        raise _Unsolved(label, "failed", str(exc)) from exc
    wall = time.perf_counter() - start
    status = problem.status
    if status in (cp.INFEASIBLE, cp.INFEASIBLE_INACCURATE):
        raise Infeasible(status)
    if status not in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE):
        raise _Unsolved(label, str(status))
    solve_s = (problem.solver_stats.solve_time if problem.solver_stats else None) or 0.0
    return status, max(wall - solve_s, 0.0), solve_s


def _fixed(data: ProblemData) -> tuple[np.ndarray, np.ndarray]:
    """Forced lots (sold entirely) and the value they sell."""
    fixed = (data.x_lb > 0) & (data.x_lb >= data.x_ub - 1e-15)
    return fixed, np.where(fixed, data.x_lb, 0.0)


def _constants(data: ProblemData, fixed_x: np.ndarray) -> dict:
    """Everything that does not depend on the free variables, forced trades folded in."""
    n = len(data.w0)
    fixed_each = np.bincount(data.lot_sec, weights=fixed_x, minlength=n)
    b_lb = np.minimum(data.b_lb, UNBOUNDED)
    forced = float(fixed_x.sum()) + float(b_lb.sum())
    turnover = min(data.max_turnover, UNBOUNDED)
    budget = min(data.budget, UNBOUNDED)
    return {
        "w_base": data.w0 - fixed_each + b_lb,
        "fixed_each": fixed_each,
        "cash_base": data.cash0 + float(fixed_x.sum()) - float(b_lb.sum()) - data.cost_rate * forced,
        "floor": data.cash_floor,
        "cash_target": data.cash_target,
        "cost": data.cost_rate,
        "gain_room": budget - float(data.gain @ fixed_x),
        "turnover_room": 2 * turnover - forced,
        "b_room": np.maximum(np.minimum(data.b_ub, UNBOUNDED) - b_lb, 0.0),
    }


def _pools(data: ProblemData, movable: np.ndarray, slots: int) -> np.ndarray:
    """Pool each security's movable lots into at most ``slots`` tranches; return each lot's
    tranche (-1 for immovable lots), tranche ``t`` belonging to security ``t // slots``.

    Tranches never mix holding terms and hold neighbours in gain order, so a tranche's average
    tax and gain per unit sold are an upper chord of the true (convex, cheapest-first) cost:
    the pooled problem never understates the tax or the budget it uses.
    """
    n = len(data.w0)
    tranche = np.full(len(data.lot_sec), -1, dtype=np.int64)
    idx = np.flatnonzero(movable)
    order = idx[np.lexsort((data.gain[idx], data.lot_pool[idx], data.lot_sec[idx]))]
    sec = data.lot_sec[order]
    counts = np.bincount(sec, minlength=n)
    first = np.concatenate(([0], np.cumsum(counts)[:-1]))
    rank = np.arange(len(order)) - first[sec]
    # Most securities have no more lots than slots: one lot per tranche, vectorised.
    tranche[order] = sec * slots + rank
    for i in np.flatnonzero(counts > slots):
        lots = order[first[i] : first[i] + counts[i]]
        pools = data.lot_pool[lots]
        kinds, kind_counts = np.unique(pools, return_counts=True)
        share = np.maximum(1, np.floor(slots * kind_counts / kind_counts.sum()).astype(int))
        share[np.argmax(kind_counts)] += slots - share.sum()
        base = i * slots
        for kind, count, m in zip(kinds, kind_counts, share, strict=True):
            members = lots[pools == kind]
            tranche[members] = base + (np.arange(count) * m) // count
            base += m
    return tranche


def _solve_cached(data: ProblemData) -> Solution:
    n = len(data.w0)
    fixed, fixed_x = _fixed(data)
    movable = (data.x_ub > 1e-15) & ~fixed
    counts = np.bincount(data.lot_sec[movable], minlength=n)
    n_pad, slots, k_pad = _shape(n, int(counts.max()) if n else 1, data.exposures.shape[1])
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
    tranche = _pools(data, movable, slots)
    m = np.flatnonzero(tranche >= 0)
    t = tranche[m]
    size = n_pad * slots
    ub = np.bincount(t, weights=data.x_ub[m], minlength=size)
    with np.errstate(divide="ignore", invalid="ignore"):
        tax = np.where(ub > 0, np.bincount(t, weights=data.tax[m] * data.x_ub[m], minlength=size) / ub, 0.0)
        gain = np.where(ub > 0, np.bincount(t, weights=data.gain[m] * data.x_ub[m], minlength=size) / ub, 0.0)

    def pad_sec(v: np.ndarray) -> np.ndarray:
        out = np.zeros(n_pad)
        out[:n] = v
        return out

    exposures, sqrt_spec = _scaled(data)
    e = np.zeros((n_pad, k_pad))
    e[:n, : exposures.shape[1]] = exposures
    values = _constants(data, fixed_x)
    values.update(
        w_base=pad_sec(values["w_base"]),
        b_room=pad_sec(values["b_room"]),
        s_lb=pad_sec(data.s_lb - values.pop("fixed_each")),
        reference=pad_sec(data.reference),
        exposures=e,
        sqrt_spec=pad_sec(sqrt_spec),
        x_ub=ub,
        tax=tax,
        gain=gain,
    )
    with compiled.lock:
        # save_value skips cvxpy's per-assignment validation, which costs more than the solve
        # of a small account; the values are built above with the right shapes and signs.
        for name, value in values.items():
            compiled.params[name].save_value(
                np.asarray(value, dtype=float) if np.ndim(value) else float(value)
            )
        status, compile_s, solve_s = _run(compiled.problem, FAST_SOLVER[0], *FAST_SOLVER)
        x_t = np.clip(np.asarray(compiled.x.value), 0.0, ub)
        b = np.asarray(compiled.b.value)[:n] + np.minimum(data.b_lb, UNBOUNDED)
    # Back to lots: within a tranche, cheapest (lowest gain) lots first.
    x = fixed_x.copy()
    order = grouped_order(t, data.gain[m], np.arange(len(m)))
    x[m] = relieve_grouped(t, x_t, data.x_ub[m], order)
    return Solution(x, b, status, compile_s, solve_s, cached)


def _solve_fresh(data: ProblemData, solvers: tuple[tuple[str, str, dict], ...] | None = None) -> Solution:
    """Solve on constants; with several ``solvers``, try each in turn until one is optimal (the
    last optimal_inaccurate answer is kept if none is)."""
    n = len(data.w0)
    solvers = solvers or ((FAST_SOLVER[0], *FAST_SOLVER),)
    start = time.perf_counter()
    fixed, fixed_x = _fixed(data)
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
    p = _constants(data, fixed_x)
    fixed_each = p.pop("fixed_each")
    p.update(
        reference=data.reference,
        exposures=exposures[:, keep] if len(keep) else np.zeros((n, 1)),
        sqrt_spec=sqrt_spec,
        x_ub=lots(data.x_ub),
        b_room=buys(p["b_room"]),
        tax=lots(data.tax),
        gain=lots(data.gain),
    )
    if data.s_lb.any():
        p["s_lb"] = data.s_lb - fixed_each
    problem = _objective_and_constraints(p, x, b, S, E, data.lookthrough, n)
    compile_s = time.perf_counter() - start
    solve_s = 0.0
    best: Solution | None = None
    failures: list[str] = []
    for attempt, (label, solver, options) in enumerate(solvers, start=1):
        tick = time.perf_counter()
        try:
            status, c_s, s_s = _run(problem, label, solver, options)
        except _Unsolved as exc:
            solve_s += time.perf_counter() - tick
            failures.append(str(exc))
            continue
        compile_s += c_s
        solve_s += s_s
        if x.value is None or b.value is None:
            failures.append(f"{label}: no solution")
            continue
        xs = fixed_x.copy()
        xs[free_x] = np.asarray(x.value)[: len(free_x)]
        bs = np.minimum(data.b_lb, UNBOUNDED)
        bs[free_b] += np.asarray(b.value)[: len(free_b)]
        best = Solution(xs, bs, status, compile_s, solve_s, False, label, attempt)
        if status == cp.OPTIMAL:
            break
    if best is None:
        raise _Unsolved("fallbacks", "failed", "; ".join(failures))
    return replace(best, compile_seconds=compile_s, solve_seconds=solve_s)


def _compact(data: ProblemData) -> tuple[ProblemData, np.ndarray, np.ndarray]:
    """Drop inert securities (not held, not buyable, not tracked) and their empty lots."""
    active = (data.w0 > 0) | (data.b_ub > 0) | (data.reference != 0) | (data.s_lb > 0)
    if data.lookthrough is not None or active.all():
        return data, np.arange(len(data.w0)), np.arange(len(data.lot_sec))
    keep = np.flatnonzero(active)
    new_index = np.full(len(data.w0), -1)
    new_index[keep] = np.arange(len(keep))
    lots = np.flatnonzero(active[data.lot_sec])
    sec_fields = ("w0", "reference", "specific", "b_lb", "b_ub", "s_lb")
    lot_fields = ("lot_pool", "x_lb", "x_ub", "tax", "gain")
    compact = replace(
        data,
        lot_sec=new_index[data.lot_sec[lots]],
        exposures=data.exposures[keep],
        **{f: getattr(data, f)[keep] for f in sec_fields},
        **{f: getattr(data, f)[lots] for f in lot_fields},
    )
    return compact, keep, lots


def _cash_floor_unreachable(data: ProblemData) -> bool:
    """True when no sale can lift cash to its floor within the net-gain budget and turnover cap.

    An upper bound on the cash the problem can reach (buys left out, lots sold cheapest gain
    first: the greedy answer to ``max sum x  s.t.  gain' x <= budget, 0 <= x <= x_ub``), so
    ``True`` is a proof of infeasibility.  Interior-point solvers need not certify these
    degenerate problems (Clarabel ran into its iteration limit or failed on some); the caller
    diagnoses the conflict instead.
    """
    forced_buys = float(np.minimum(data.b_lb, UNBOUNDED).sum())
    if data.cash0 - (1 + data.cost_rate) * forced_buys >= data.cash_floor:
        return False  # the usual case: doing nothing optional keeps the floor
    fixed, fixed_x = _fixed(data)
    c = _constants(data, fixed_x)
    free = (data.x_ub > 1e-15) & ~fixed
    room = data.x_ub[free]
    if data.budget < math.inf:
        gain = data.gain[free]
        order = np.argsort(gain, kind="stable")
        room, gain = room[order], gain[order]
        spent = np.cumsum(room * gain)
        before = spent - room * gain
        left = c["gain_room"] - before
        with np.errstate(divide="ignore", invalid="ignore"):
            room = np.where(gain <= 0, room, np.clip(left / gain, 0.0, room))
    sold = min(float(room.sum()), c["turnover_room"]) if data.max_turnover < math.inf else float(room.sum())
    reachable = c["cash_base"] + max(sold, 0.0) * (1 - data.cost_rate)
    return reachable < data.cash_floor - 1e-9


def solve(data: ProblemData) -> Solution:
    """Solve one optimisation; raises ``Infeasible`` or ``SolverFailed``.

    Uses a cached compiled problem when the account is small and needs no look-through, with
    Clarabel's defaults.  When that fails, stops early or is inaccurate, the account is solved
    afresh by ``FALLBACK_SOLVERS`` in turn; ``Solution.solver`` names the one whose answer is used.
    """
    compact, keep, lots = _compact(data)
    if _cash_floor_unreachable(compact):
        raise Infeasible("cash floor unreachable")
    n = len(compact.w0)
    fixed, _ = _fixed(compact)
    movable = (compact.x_ub > 1e-15) & ~fixed
    max_lots = int(np.bincount(compact.lot_sec[movable]).max()) if movable.any() else 1
    n_pad, slots, _ = _shape(n, max_lots, compact.exposures.shape[1])
    small = compact.lookthrough is None and n_pad <= DPP_MAX_SECURITIES and n_pad * slots <= DPP_MAX_SLOTS
    start = time.perf_counter()
    solution: Solution | None = None
    failures: list[str] = []
    try:
        solution = _solve_cached(compact) if small else _solve_fresh(compact)
    except _Unsolved as exc:
        failures.append(str(exc))
    if solution is None or solution.status != cp.OPTIMAL:
        first_s = time.perf_counter() - start
        try:
            retry = _solve_fresh(compact, FALLBACK_SOLVERS)
        except _Unsolved as exc:
            failures.append(str(exc))
            retry = None
        except Infeasible:
            if solution is None:
                raise
            retry = None
        if retry is None and solution is None:
            raise SolverFailed(
                "the solver failed ("
                + "; ".join(failures)
                + "); relax max_turnover, the cash floor or the tax budget, or retry",
                {"solver": "CLARABEL", "attempts": failures},
            )
        if retry is not None and (solution is None or retry.status == cp.OPTIMAL):
            spent = solution.compile_seconds + solution.solve_seconds if solution else first_s
            solution = replace(
                retry,
                solve_seconds=retry.solve_seconds + spent,
                cached=False,
                attempts=retry.attempts + 1,
            )
    x = np.zeros(len(data.lot_sec))
    b = np.zeros(len(data.w0))
    x[lots] = np.clip(np.nan_to_num(solution.x), 0.0, None)
    b[keep] = np.clip(np.nan_to_num(solution.b), 0.0, None)
    return replace(solution, x=x, b=b)
