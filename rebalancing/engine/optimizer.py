"""The convex trade optimisation: the cvxpy formulation (the readable reference) and ``solve``.

The problem is stated in ``problem``: minimise tracking variance through the risk model plus a
cash-target penalty plus a small tax-and-cost tie-breaker (``KAPPA``), subject to lot and buy
bounds, the cash floor, a turnover cap and the net-gain budget.  Scaling to fractions of account
value and an explicit active-weight variable keep Clarabel fast and accurate (a formulation in
shares and dollars was 9x slower and could stop at a wrong optimum).

``solve`` uses the fast path (``qp``: Clarabel's matrices built directly, one fresh solver per
account, no state kept between calls) and falls back to this cvxpy formulation with other
solvers when it fails.  Tests check the fast path against this formulation.

Taxes only break ties (``KAPPA``) except for the lots of direct-indexed names, whose ``tax`` the
caller (``limits``) multiplies by ``tax_weight(c)`` so that tax and tracking variance trade at the
client's rate: ``c`` is ``trading.tracking_error_cost`` for a gain (tracking restored for a year)
and a twelfth of it for a harvest (tracking given up for a month, until the name may be bought
back).  ``tax`` is 0 for a loss lot that is not a harvest (no credit for slivers) and for a
short-term lot whose gain is still within the harvest threshold (swapped back while cheap).
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import replace

import cvxpy as cp
import numpy as np
import scipy.sparse as sp

from .activeset import fits, solve_active_set
from .errors import SolverFailed
from .problem import (
    CASH_PENALTY,
    KAPPA,
    REFERENCE_VARIANCE,
    UNBOUNDED,
    Infeasible,
    ProblemData,
    Solution,
    compact,
    folded,
    forced_sales,
    objective,
    scaled_risk,
)
from .qp import Unsolved, solve_qp

__all__ = [
    "KAPPA",
    "tax_weight",
    "CASH_PENALTY",
    "REFERENCE_VARIANCE",
    "ProblemData",
    "Solution",
    "Infeasible",
    "objective",
    "solve",
    "solve_reference",
]


def tax_weight(tracking_error_cost: float) -> float:
    """Multiplier of a lot's ``tax`` that makes ``tracking_error_cost`` percent of account value in
    tax weigh as much in the objective as (1%/yr)^2 of tracking variance."""
    return 1e-4 / REFERENCE_VARIANCE / (KAPPA * tracking_error_cost / 100)


def _objective_and_constraints(p, x, b, S, E, M, n: int):
    """The reference formulation on constants ``p`` (forced trades folded in, see ``folded``)."""
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
    # Caps that cannot bind are left out: each is a dense row in the KKT system.
    if p["turnover_room"] < UNBOUNDED:
        constraints.append(traded <= p["turnover_room"])
    if p["gain_room"] < UNBOUNDED / 2:
        constraints.append(p["gain"] @ x <= p["gain_room"])
    if "s_lb" in p:
        constraints.append(S @ x >= p["s_lb"])
    objective = (
        cp.sum_squares(p["exposures"].T @ a)
        # A diagonal quadratic form goes straight into the solver's P matrix.
        + cp.quad_form(a, sp.diags(p["specific"]), assume_PSD=True)
        + CASH_PENALTY * cp.square(cash - p["cash_target"])
        + KAPPA * (p["tax"] @ x + p["cost"] * traded)
    )
    return cp.Problem(cp.Minimize(objective), constraints)


# The fast path: Clarabel on the directly built matrices (``qp.DEFAULT_SETTINGS`` plus these).
# When it fails, stops early or is inaccurate, the account is solved again by each of
# ``FALLBACK_SOLVERS`` in turn until one is optimal: first Clarabel at the same tolerances without
# equilibration - on a few small accounts the equilibrated solve stalls just short of ``tol_feas``
# (13 of the single-account backtest's 3,652 solves); unequilibrated they are solved as tightly as
# the rest, where the next retry's 1e-8 tolerances left 7 of them 1-2.6e-6 off the optimum.  Then
# Clarabel with more iterations, a stronger static regularisation (which certified degenerate
# infeasible problems the defaults failed on), iterative refinement and full equilibration, then
# OSQP at tight tolerance and SCS on the cvxpy formulation.  Rounding's clean-up follows
# whichever answers.
FAST_SOLVER = ("CLARABEL", {})
FALLBACK_SOLVERS: tuple[tuple[str, str, dict], ...] = (
    ("CLARABEL-unscaled", "CLARABEL", {"equilibrate_enable": False}),
    (
        "CLARABEL-retry",
        "CLARABEL",
        {
            "max_iter": 1000,
            "static_regularization_constant": 1e-6,
            "iterative_refinement_enable": True,
            "equilibrate_enable": True,
            "equilibrate_max_iter": 10,
            "tol_gap_abs": 1e-8,
            "tol_gap_rel": 1e-8,
            "tol_feas": 1e-8,
        },
    ),
    ("OSQP", "OSQP", {"eps_abs": 1e-7, "eps_rel": 1e-7, "max_iter": 20_000, "polishing": True}),
    ("SCS", "SCS", {"eps_abs": 1e-7, "eps_rel": 1e-7, "max_iters": 20_000}),
)


def _run(problem: cp.Problem, label: str, solver: str, options: dict | None = None):
    """Solve once through cvxpy; return (status, compile seconds, solve seconds).

    Raises ``Infeasible`` on a certified infeasibility and ``Unsolved`` when the solver fails
    or stops with anything but optimal / optimal_inaccurate (the caller decides about the latter).
    """
    start = time.perf_counter()
    try:
        # cvxpy's warnings ("Solution may be inaccurate") are not for the user: statuses are
        # handled here, and the CLI's stderr is for errors.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            problem.solve(solver=solver, **(options or {}))
    except (cp.error.SolverError, ArithmeticError, ValueError) as exc:
        raise Unsolved(label, "failed", str(exc)) from exc
    wall = time.perf_counter() - start
    status = problem.status
    if status in (cp.INFEASIBLE, cp.INFEASIBLE_INACCURATE):
        raise Infeasible(status)
    if status not in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE):
        raise Unsolved(label, str(status))
    solve_s = (problem.solver_stats.solve_time if problem.solver_stats else None) or 0.0
    return status, max(wall - solve_s, 0.0), solve_s


def solve_reference(
    data: ProblemData, solvers: tuple[tuple[str, str, dict], ...] = (("CLARABEL", "CLARABEL", {}),)
) -> Solution:
    """Solve the cvxpy formulation; with several ``solvers`` (label, cvxpy name, options), try
    each in turn until one is optimal (the last optimal_inaccurate answer is kept if none is)."""
    n = len(data.w0)
    if n == 0:
        # Nothing held, buyable or tracked (every name blocked, say): nothing to solve.
        return Solution(np.zeros(len(data.lot_sec)), np.zeros(0), "optimal", 0.0, 0.0, False, solvers[0][0])
    start = time.perf_counter()
    fixed, fixed_x = forced_sales(data)
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

    exposures, specific = scaled_risk(data)
    keep = np.flatnonzero(np.abs(exposures).sum(axis=0) > 0)
    p = folded(data, fixed_x)
    fixed_each = p.pop("fixed_each")
    p.update(
        reference=data.reference,
        exposures=exposures[:, keep] if len(keep) else np.zeros((n, 1)),
        specific=specific,
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
        except Unsolved as exc:
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
        raise Unsolved("fallbacks", "failed", "; ".join(failures))
    return replace(best, compile_seconds=compile_s, solve_seconds=solve_s)


def _fallback(data: ProblemData) -> tuple[Solution | None, list[str]]:
    """Each of ``FALLBACK_SOLVERS`` in turn until one is optimal; Clarabel runs on the fast
    path's matrices, the others on the cvxpy formulation."""
    best: Solution | None = None
    failures: list[str] = []
    spent = 0.0
    for attempt, (label, solver, options) in enumerate(FALLBACK_SOLVERS, start=1):
        tick = time.perf_counter()
        try:
            if solver == "CLARABEL":
                found = solve_qp(data, options, label)
            else:
                found = solve_reference(data, ((label, solver, options),))
        except Unsolved as exc:
            failures.append(str(exc))
            spent += time.perf_counter() - tick
            continue
        except Infeasible:
            if best is None:
                raise
            break
        spent += time.perf_counter() - tick
        best = replace(found, attempts=attempt, compile_seconds=0.0, solve_seconds=spent)
        if found.status == cp.OPTIMAL:
            break
    return best, failures


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
    fixed, fixed_x = forced_sales(data)
    c = folded(data, fixed_x)
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

    The fast path first (``FAST_SOLVER``); when it fails, stops early or is inaccurate, the
    account is solved again by ``FALLBACK_SOLVERS`` in turn; ``Solution.solver`` names the one
    whose answer is used.  Nothing is kept between calls: the same data give the same answer
    whatever the process solved before.
    """
    if _cash_floor_unreachable(data):
        raise Infeasible("cash floor unreachable")
    start = time.perf_counter()
    solution: Solution | None = None
    failures: list[str] = []
    if fits(data):
        # A small account: the dense active-set method, Clarabel's fast path when it fails.
        try:
            solution = solve_active_set(data)
        except Unsolved as exc:
            failures.append(str(exc))
    if solution is None:
        try:
            # The fast path needs no compaction: inert securities get no variable.
            solution = solve_qp(data, FAST_SOLVER[1], FAST_SOLVER[0])
        except Unsolved as exc:
            failures.append(str(exc))
    if solution is None or solution.status != cp.OPTIMAL:
        first_s = time.perf_counter() - start
        small, keep, lots = compact(data)
        try:
            retry, more = _fallback(small)
        except Infeasible:
            if solution is None:
                raise
            retry, more = None, []
        failures += more
        if retry is None and solution is None:
            raise SolverFailed(
                "the solver failed ("
                + "; ".join(failures)
                + "); relax max_turnover, the cash floor or the tax budget, or retry",
                {"solver": "CLARABEL", "attempts": failures},
            )
        if retry is not None and (solution is None or retry.status == cp.OPTIMAL):
            x = np.zeros(len(data.lot_sec))
            b = np.zeros(len(data.w0))
            x[lots] = np.clip(np.nan_to_num(retry.x), 0.0, None)
            b[keep] = np.clip(np.nan_to_num(retry.b), 0.0, None)
            solution = replace(
                retry,
                x=x,
                b=b,
                compile_seconds=solution.compile_seconds if solution else 0.0,
                solve_seconds=retry.solve_seconds + first_s,
                attempts=retry.attempts + 1,
            )
    return solution
