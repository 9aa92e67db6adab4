"""The trade optimisation of a small account, dense, by an active-set method (DAQP).

The same problem as ``qp`` (stated in ``problem``), for accounts of a few dozen free lots and
buys (a model portfolio): one variable per free lot and per buyable security, the risk model,
cash penalty and trade costs folded into a dense ``H`` and ``f``, bounds as simple bounds, and
the cash floor, turnover cap and net-gain budget as the only rows.  An active-set method finds
the optimum's vertex exactly (to rounding) in a few dozen cheap steps, where the interior-point
method pays a sparse factorisation per iteration.  ``H`` is singular (lots of one security move
its weight alike; they differ only in tax): DAQP solves it by proximal-point iterations, run to a
tight tolerance so the answer is the optimum's, not a regularised one's.

Without a net-gain budget each security's sale is spread over its lots cheapest tax first, as
``qp`` does, so ties between lots of equal rate are settled the same way.

Raises ``Unsolved`` on anything but an optimal answer; the caller then solves with Clarabel.
Accounts with minimum sales are not taken (``fits``).
"""

from __future__ import annotations

import math
import time

import daqp
import numpy as np

from .lots import relieve_grouped
from .problem import CASH_PENALTY, KAPPA, UNBOUNDED, ProblemData, Solution, free_variables, scaled_risk
from .qp import Unsolved

__all__ = ["MAX_VARIABLES", "fits", "solve_active_set"]

# Above this many lots and securities (movable or not) the interior-point path is used: the
# dense method's steps grow with the square of the variables and its steps with their number.
MAX_VARIABLES = 128
# DAQP's settings: primal feasibility to 1e-10 of account value; proximal iterations until the
# iterate moves less than 1e-12 (its default stops at ~1e-6, which left near-ties between lots
# 1e-9 short of the optimum).
_SETTINGS = {"primal_tol": 1e-10, "eta_prox": 1e-12}
_SQRT_CASH = math.sqrt(CASH_PENALTY)
_NO_BOUND = -1e30


def fits(data: ProblemData) -> bool:
    """Small enough for the dense path, and without minimum sales."""
    return len(data.lot_sec) + len(data.w0) <= MAX_VARIABLES and not np.count_nonzero(data.s_lb)


def solve_active_set(data: ProblemData) -> Solution:
    """Solve ``data`` densely with DAQP; raises ``Unsolved`` unless DAQP reports optimal."""
    start = time.perf_counter()
    fixed_x, base, lots, buys = free_variables(data)
    cost = data.cost_rate
    b_room = base["b_room"]
    nx = len(lots)
    nz = nx + len(buys)
    sec = data.lot_sec[lots]
    t_sec = np.concatenate((sec, buys))
    sign = np.array((-1.0, 1.0)).repeat((nx, nz - nx))
    exposures, specific = scaled_risk(data)
    root_specific = np.sqrt(specific)
    M = data.lookthrough
    n = len(data.w0)
    # L (rows: factors, securities, cash) with |L z + r|^2 the quadratic part of the objective.
    if M is None:
        active0 = base["w_base"] - data.reference
        k = exposures.shape[1]
        L = np.zeros((k + n + 1, nz))
        L[:k] = (exposures[t_sec] * sign[:, None]).T
        L[k + t_sec, np.arange(nz)] = sign * root_specific[t_sec]
    else:
        active0 = M @ base["w_base"] - data.reference
        G = M[:, t_sec].toarray() * sign
        k = exposures.shape[1]
        L = np.concatenate((exposures.T @ G, root_specific[:, None] * G, np.zeros((1, nz))))
    cash_col = np.array((1.0 - cost, -1.0 - cost)).repeat((nx, nz - nx))
    L[-1] = _SQRT_CASH * cash_col
    r = np.concatenate(
        (
            exposures.T @ active0,
            root_specific * active0,
            [_SQRT_CASH * (base["cash_base"] - data.cash_target)],
        )
    )
    H = L.T @ L
    H *= 2.0  # (in place: the same products as 2.0 * (L.T @ L))
    f = 2.0 * (L.T @ r)
    f[:nx] += KAPPA * (data.tax[lots] + cost)
    f[nx:] += KAPPA * cost
    # Rows: the cash floor, then the turnover cap and the net-gain budget when they can bind.
    rows = [-cash_col]
    upper = [base["cash_base"] - data.cash_floor]
    if base["turnover_room"] < UNBOUNDED:
        rows.append(np.ones(nz))
        upper.append(base["turnover_room"])
    budget = base["gain_room"] < UNBOUNDED / 2
    if budget:
        gain = np.zeros(nz)
        gain[:nx] = data.gain[lots]
        rows.append(gain)
        upper.append(base["gain_room"])
    m = len(rows)
    cap, buy_room = data.x_ub[lots], b_room[buys]  # (read again for the answer below)
    bupper = np.concatenate((cap, buy_room, upper))
    blower = np.zeros(nz + m)
    blower[nz:] = _NO_BOUND
    built = time.perf_counter()
    try:
        z, _, flag, _ = daqp.solve(
            H, f, np.array(rows), bupper, blower, np.zeros(nz + m, dtype=np.int32), **_SETTINGS
        )
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as exc:  # noqa: BLE001 - any failure sends the account to Clarabel
        raise Unsolved("DAQP", "failed", f"{type(exc).__name__}: {exc}") from exc
    solved = time.perf_counter()
    if flag != 1:
        raise Unsolved("DAQP", f"exit flag {flag}")
    z = np.asarray(z)
    if not np.isfinite(z).all():
        raise Unsolved("DAQP", "failed", "non-finite solution")
    x = fixed_x.copy()
    if budget:
        x[lots] = np.minimum(np.maximum(z[:nx], 0.0), cap)
    else:
        # Each security's sale from its lots cheapest tax first (lots are sorted by security).
        sold = np.bincount(sec, weights=np.maximum(z[:nx], 0.0), minlength=n)
        x[lots] = relieve_grouped(sec, sold, cap, np.lexsort((data.tax[lots], sec)))
    b = np.minimum(data.b_lb, UNBOUNDED)
    b[buys] += np.minimum(np.maximum(z[nx:], 0.0), buy_room)
    return Solution(x, b, "optimal", built - start, solved - built, False, "DAQP")
