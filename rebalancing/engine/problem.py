"""The numbers of one trade optimisation, and what every formulation of it shares.

Variables are fractions of account value: ``x`` sold per lot, ``b`` bought per security.  With
``a = M (w0 - S x + b) - reference`` the active weights (``S`` maps lots to securities, ``M``
looks replaced funds through to their benchmark) and ``cash = cash0 + sum x - sum b - cost
(sum x + sum b)``, the objective is

    |E' a|^2 + |sqrt(spec) * a|^2 + CASH_PENALTY (cash - target)^2 + KAPPA (tax' x + cost traded)

(risk scaled by a 20%-volatility reference variance), subject to lot and buy bounds, the cash
floor, a turnover cap, the net-gain budget and minimum sales per security.  ``objective`` states
it in numpy; ``optimizer`` holds the readable cvxpy formulation and ``qp`` the fast one that
builds Clarabel's matrices directly.  Both fold forced trades into constants the same way
(``forced_sales``, ``folded``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import scipy.sparse as sp

__all__ = [
    "KAPPA",
    "CASH_PENALTY",
    "REFERENCE_VARIANCE",
    "UNBOUNDED",
    "MOVABLE",
    "ProblemData",
    "Solution",
    "Infeasible",
    "objective",
    "forced_sales",
    "folded",
    "free_variables",
    "compact",
    "scaled_risk",
]

# Taxes and costs are a tie-breaker: how far to move is decided by hard budgets, which are the
# client's parameters.
KAPPA = 1e-3
CASH_PENALTY = 1.0
REFERENCE_VARIANCE = 0.04
# A cap at or above this (fractions of account value) cannot bind and is left out.
UNBOUNDED = 10.0
# A movable amount below this (fraction of account value) is not a variable.
MOVABLE = 1e-12


@dataclass(frozen=True, slots=True, eq=False)
class ProblemData:
    """Numbers of one optimisation, all fractions of account value.

    Lot arrays (``lot_sec``, ``x_lb``, ``x_ub``, ``tax``, ``gain``) must be sorted by security;
    ``lot_pool`` is the lot's holding term (1 = long).
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


def scaled_risk(data: ProblemData) -> tuple[np.ndarray, np.ndarray]:
    """Exposures and specific variances divided by the reference variance."""
    return data.exposures * (1.0 / math.sqrt(REFERENCE_VARIANCE)), data.specific / REFERENCE_VARIANCE


def objective(data: ProblemData, x: np.ndarray, b: np.ndarray) -> float:
    """The objective at sales ``x`` (per lot) and buys ``b`` (per security), forced trades included."""
    n = len(data.w0)
    w = data.w0 - np.bincount(data.lot_sec, weights=x, minlength=n) + b
    active = (data.lookthrough @ w if data.lookthrough is not None else w) - data.reference
    exposures, specific = scaled_risk(data)
    sold, bought = float(x.sum()), float(b.sum())
    traded = sold + bought
    cash = data.cash0 + sold - bought - data.cost_rate * traded
    factor = exposures.T @ active
    return float(
        factor @ factor
        + specific @ (active * active)
        + CASH_PENALTY * (cash - data.cash_target) ** 2
        + KAPPA * (data.tax @ x + data.cost_rate * traded)
    )


def forced_sales(data: ProblemData) -> tuple[np.ndarray, np.ndarray]:
    """Forced lots (sold entirely) and the value they sell."""
    fixed = (data.x_lb > 0) & (data.x_lb >= data.x_ub - 1e-15)
    return fixed, np.where(fixed, data.x_lb, 0.0)


def folded(data: ProblemData, fixed_x: np.ndarray) -> dict:
    """Everything that does not depend on the free variables, forced trades folded in.

    Forced sales and forced buys become constants (``w_base``, ``cash_base``, ``turnover_room``,
    ``gain_room``), so each free variable has exactly two bounds.
    """
    n = len(data.w0)
    fixed_each = np.bincount(data.lot_sec, weights=fixed_x, minlength=n)
    b_lb = np.minimum(data.b_lb, UNBOUNDED)
    sold, bought = float(fixed_x.sum()), float(b_lb.sum())
    forced = sold + bought
    turnover = min(data.max_turnover, UNBOUNDED)
    budget = min(data.budget, UNBOUNDED)
    return {
        "w_base": data.w0 - fixed_each + b_lb,
        "fixed_each": fixed_each,
        "cash_base": data.cash0 + sold - bought - data.cost_rate * forced,
        "floor": data.cash_floor,
        "cash_target": data.cash_target,
        "cost": data.cost_rate,
        "gain_room": budget - float(data.gain @ fixed_x),
        "turnover_room": 2 * turnover - forced,
        "b_room": np.maximum(np.minimum(data.b_ub, UNBOUNDED) - b_lb, 0.0),
    }


def free_variables(data: ProblemData) -> tuple[np.ndarray, dict, np.ndarray, np.ndarray]:
    """What the fast formulations (``qp``, ``activeset``) decide, forced trades folded out: the
    forced sales per lot (``forced_sales``), the constants (``folded``), the lots that may be sold
    in part and the securities with room to buy (indices)."""
    fixed, fixed_x = forced_sales(data)
    base = folded(data, fixed_x)
    lots = ((data.x_ub > MOVABLE) & ~fixed).nonzero()[0]
    buys = (base["b_room"] > MOVABLE).nonzero()[0]
    return fixed_x, base, lots, buys


def compact(data: ProblemData) -> tuple[ProblemData, np.ndarray, np.ndarray]:
    """Drop inert securities (not held, not buyable, not tracked) and their empty lots.

    Returns the smaller problem, the kept securities and the kept lots.
    """
    active = (data.w0 > 0) | (data.b_ub > 0) | (data.reference != 0) | (data.s_lb > 0)
    if data.lookthrough is not None or active.all():
        return data, np.arange(len(data.w0)), np.arange(len(data.lot_sec))
    keep = np.flatnonzero(active)
    new_index = np.full(len(data.w0), -1)
    new_index[keep] = np.arange(len(keep))
    lots = np.flatnonzero(active[data.lot_sec])
    sec_fields = ("w0", "reference", "specific", "b_lb", "b_ub", "s_lb")
    lot_fields = ("lot_pool", "x_lb", "x_ub", "tax", "gain")
    smaller = replace(
        data,
        lot_sec=new_index[data.lot_sec[lots]],
        exposures=data.exposures[keep],
        **{f: getattr(data, f)[keep] for f in sec_fields},
        **{f: getattr(data, f)[lots] for f in lot_fields},
    )
    return smaller, keep, lots
