"""``rebalance(request) -> result``: the pipeline of one account.

validate -> arrays (``positions``) -> targets -> bounds (``limits``) -> optimise -> round ->
report.  Pure: no I/O, no Django; safe to call from Celery workers, the API and benchmarks.
"""

from __future__ import annotations

import functools
import math
import time
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, replace
from datetime import timedelta
from itertools import compress

import numpy as np

from .drift import drift_units, stand_ins
from .errors import EngineError, InfeasibleParameters, InvalidRequest
from .harvest import opportunity_by_symbol
from .instructions import (
    NO_INSTRUCTIONS,
    InstructionEffects,
    apply_swap_targets,
    cash_levels,
    read_instructions,
)
from .limits import Limits, build_limits, harvest_alert, reopen_unharvested
from .money import cents
from .optimizer import Infeasible, ProblemData, solve
from .positions import Book, build_book, lot_columns
from .request import RebalanceRequest, validate_request
from .result import (
    CASH_KEY,
    REASONS,
    Alert,
    BlockedBuy,
    Diagnostics,
    LotSale,
    RebalanceResult,
    Summary,
    Trade,
    build_many,
    draft_of,
    finished,
)
from .risk import RiskMatrix, build_risk
from .rounding import Fill, round_trades
from .targets import TargetPlan, plan_targets, universe_symbols
from .wash_sales import (
    WINDOW_DAYS,
    Equivalence,
    buyable_on,
    disallowed_alert,
    latest_loss_sales,
    washing_purchase_alert,
)
from .words import dollars

__all__ = ["rebalance", "problem_data"]

MAX_SOLVES = 3
# Cash left below the floor after rounding and repairs by more than this is a breach (currency).
CASH_SHORT_TOLERANCE = 0.005


@dataclass(slots=True, eq=False)
class _Prepared:
    request: RebalanceRequest
    book: Book
    plan: TargetPlan
    effects: InstructionEffects
    limits: Limits
    risk: RiskMatrix | None = None
    data: ProblemData | None = None
    budget_binding: bool = False
    # The model's targets (securities, cash) when an instruction moved the plan's: the drift reported
    # is measured against them (``drift`` module docstring); None = the plan's.
    model_targets: tuple[np.ndarray, float] | None = None


def _prepare(request: RebalanceRequest) -> _Prepared:
    try:
        # The lots read into columns once, for validation, the universe and the book.
        columns = lot_columns(request.account.lots) if isinstance(request, RebalanceRequest) else None
        securities = validate_request(request, columns and (columns.ids, columns.symbols))
    except (TypeError, AttributeError) as exc:
        raise InvalidRequest(f"malformed request: {exc}") from exc
    params = request.parameters
    effects = read_instructions(params.instructions)
    book = build_book(request, securities, universe_symbols(request, columns, securities), columns)
    target, floor = cash_levels(params.cash, effects, book.total_value)
    plan = plan_targets(request, book, target, floor)
    # What the drift reported is measured against: the model's targets, not those an instruction
    # moves for this solve (raised cash or a liquidation changes the cash target too).
    model_targets = None
    if effects.liquidate or effects.raise_cash > 0:
        model = plan_targets(request, book, *cash_levels(params.cash, NO_INSTRUCTIONS, book.total_value))
        model_targets = (model.target, model.cash_target)
    elif effects.swaps:
        model_targets = (plan.target.copy(), plan.cash_target)
    apply_swap_targets(plan, book, effects)
    limits = build_limits(request, book, plan, effects)
    prepared = _Prepared(request, book, plan, effects, limits, model_targets=model_targets)
    if limits.inside_band:
        return prepared
    risk_models = {
        s.asset_class: s.benchmark.risk_model
        for s in request.model.sleeves
        if s.benchmark is not None and s.benchmark.risk_model is not None
    }
    prepared.risk = build_risk(book, plan, risk_models)
    prepared.data = ProblemData(
        lot_sec=book.lot_sec,
        lot_pool=book.lot_long.astype(np.int64),
        w0=book.weights,
        reference=plan.reference,
        lookthrough=plan.lookthrough,
        exposures=prepared.risk.exposures,
        specific=prepared.risk.specific,
        x_lb=limits.x_lb,
        x_ub=limits.x_ub,
        tax=limits.tax,
        gain=limits.gain,
        b_lb=limits.b_lb,
        b_ub=limits.b_ub,
        s_lb=limits.s_lb,
        cash0=book.cash_weight,
        cash_floor=plan.cash_floor,
        cash_target=plan.cash_target + plan.cash_reserve,
        cost_rate=limits.cost_rate,
        budget=limits.budget,
        max_turnover=limits.max_turnover,
    )
    return prepared


def problem_data(request: RebalanceRequest) -> ProblemData | None:
    """The optimisation ``rebalance`` solves first for ``request`` (None when every position is
    inside its drift band); for benchmarks and tests of the optimiser."""
    return _prepare(request).data


def rebalance(request: RebalanceRequest) -> RebalanceResult:
    """Propose the trades for one account and explain them.

    Raises ``InvalidRequest`` for bad input, ``InfeasibleParameters`` (naming the conflicting
    parameters) when the parameters cannot all hold, ``SolverFailed`` on numerical failure.
    """
    start = time.perf_counter()
    prepared = _prepare(request)
    if prepared.limits.inside_band:
        fill = Fill(np.zeros(len(prepared.book.lots)), np.zeros(prepared.book.n), [])
        diagnostics = Diagnostics(status="inside_tolerance")
    else:
        try:
            fill, diagnostics = _optimise(prepared)
        except Infeasible:
            raise _explain_infeasible(request) from None
        if fill.cash_short > CASH_SHORT_TOLERANCE:
            raise _explain_cash_short(request, fill.cash_short)
    _guard_wash_sales(prepared, fill)
    d = diagnostics
    # (Built directly: ``dataclasses.replace`` costs several times as much.)
    total_ms = (time.perf_counter() - start) * 1e3
    total = Diagnostics(d.solver, d.status, d.solves, d.cached, d.compile_ms, d.solve_ms, total_ms)
    return _report(prepared, fill, total)


def _optimise(prepared: _Prepared) -> tuple[Fill, Diagnostics]:
    data = prepared.data
    book = prepared.book
    trading = prepared.request.parameters.trading
    compile_s = solve_s = 0.0
    cached = True
    prepared.budget_binding = False
    for attempt in range(1, MAX_SOLVES + 1):
        solution = solve(data)
        if attempt == 1 and len(reopen_unharvested(book, prepared.limits, solution.x)):
            # Candidates the optimiser did not harvest go back to the buy side: solve again.
            limits = prepared.limits
            data = replace(data, x_lb=limits.x_lb, x_ub=limits.x_ub, b_ub=limits.b_ub)
            prepared.data = data
            compile_s += solution.compile_seconds
            solve_s += solution.solve_seconds
            solution = solve(data)
        compile_s += solution.compile_seconds
        solve_s += solution.solve_seconds
        cached &= solution.cached
        fill = round_trades(book, prepared.plan, prepared.limits, solution, trading)
        if data.budget < math.inf:
            used = float(data.gain @ solution.x)
            prepared.budget_binding = used >= data.budget - 1e-6
        # FIFO/HIFO relief may realise more gain than the optimiser's lot choice: tighten the
        # budget by the excess and solve again rather than break the relief order.
        if fill.gain_trimmed <= max(1.0, 0.01 * data.budget * book.total_value) or attempt == MAX_SOLVES:
            break
        data = replace(data, budget=max(0.0, data.budget - fill.gain_trimmed / book.total_value))
    diagnostics = Diagnostics(
        solver=solution.solver,
        status=solution.status,
        solves=attempt,
        cached=cached,
        compile_ms=compile_s * 1e3,
        solve_ms=solve_s * 1e3,
    )
    if solution.status != "optimal":
        fill.notes.append(f"the solver reported {solution.status}; check the proposal")
    return fill, diagnostics


def _relaxations(request: RebalanceRequest) -> list[tuple[str, object]]:
    p = request.parameters
    out: list[tuple[str, object]] = []
    if p.cash.floor > 0:
        out.append(("cash.floor", replace(p, cash=replace(p.cash, floor=0.0))))
    if p.transition is not None:
        for name in ("max_net_gain_per_run", "max_net_gain_per_year"):
            if getattr(p.transition, name) is not None:
                out.append(
                    (f"transition.{name}", replace(p, transition=replace(p.transition, **{name: None})))
                )
    if p.trading.max_turnover is not None:
        out.append(("trading.max_turnover", replace(p, trading=replace(p.trading, max_turnover=None))))
    for name in ("do_not_sell", "hold", "do_not_buy"):
        if getattr(p.restrictions, name):
            out.append(
                (f"restrictions.{name}", replace(p, restrictions=replace(p.restrictions, **{name: ()})))
            )
    if p.harvest is not None:
        out.append(("harvest", replace(p, harvest=None)))
    kinds = {i.kind for i in p.instructions}
    for kind in sorted(kinds):
        kept = tuple(i for i in p.instructions if i.kind != kind)
        out.append((f"instructions.{kind}", replace(p, instructions=kept)))
    recent = request.as_of - timedelta(days=WINDOW_DAYS)
    bought_on = request.account.bought_on()
    if not p.wash_sale.allow and (
        request.account.household_trades
        or any((day := bought_on.get(lot.id, lot.acquired)) is not None and day >= recent
               for lot in request.account.lots)
    ):
        out.append(("wash_sale.allow", replace(p, wash_sale=replace(p.wash_sale, allow=True))))
    if p.screen is not None:
        out.append(("screen", replace(p, screen=None)))
    return out


def _explain_infeasible(request: RebalanceRequest) -> InfeasibleParameters:
    """Find the parameters whose relaxation alone makes the problem feasible."""
    candidates = _relaxations(request)
    conflicts = []
    for name, relaxed in candidates:
        try:
            prepared = _prepare(replace(request, parameters=relaxed))
            if not prepared.limits.inside_band:
                solve(prepared.data)
        except (Infeasible, EngineError):
            continue
        conflicts.append(name)
    if not conflicts:
        conflicts = [name for name, _ in candidates] or ["parameters"]
    listed = ", ".join(conflicts)
    return InfeasibleParameters(
        f"the parameters cannot all hold; relax one of: {listed}", conflicts, {"account": request.account.id}
    )


def _explain_cash_short(request: RebalanceRequest, short: float) -> InfeasibleParameters:
    """The continuous problem met the floor but whole shares, the budget or the turnover cap left
    the tradable proposal short: name the parameters whose relaxation alone restores it."""
    candidates = _relaxations(request)
    p = request.parameters
    if p.trading.whole_shares:
        candidates.append(
            ("trading.whole_shares", replace(p, trading=replace(p.trading, whole_shares=False)))
        )
    conflicts = []
    for name, relaxed in candidates:
        try:
            prepared = _prepare(replace(request, parameters=relaxed))
            if not prepared.limits.inside_band:
                fill, _ = _optimise(prepared)
                if fill.cash_short > CASH_SHORT_TOLERANCE:
                    continue
        except (Infeasible, EngineError):
            continue
        conflicts.append(name)
    if not conflicts:
        conflicts = [name for name, _ in candidates] or ["cash.floor"]
    if "cash.floor" not in conflicts and p.cash.floor > 0:
        conflicts.insert(0, "cash.floor")
    listed = ", ".join(conflicts)
    return InfeasibleParameters(
        f"tradable quantities cannot keep cash at its floor ({dollars(short)} short); relax one of: {listed}",
        conflicts,
        {"account": request.account.id, "cash_short": round(short, 2)},
    )


def _guard_wash_sales(prepared: _Prepared, fill: Fill) -> None:
    """Last line of defence: a proposal must never create a wash sale the parameters forbid."""
    book, limits = prepared.book, prepared.limits
    loss_lots = (fill.lot_sold > 0) & (book.lot_gain < 0)
    sold, bought = book.lot_sec[loss_lots], (fill.bought > 0).nonzero()[0]
    if prepared.request.parameters.wash_sale.equivalent_groups:  # (else each security is its own group)
        sold, bought = limits.group[sold], limits.group[bought]
    sold_groups, bought_groups = set(sold.tolist()), set(bought.tolist())
    clash = sold_groups & bought_groups
    if not prepared.request.parameters.wash_sale.allow:
        clash |= bought_groups & limits.window_loss_groups
    if clash:
        raise EngineError("internal error: the proposal would create a wash sale", code="internal_error")


def _te(
    risk: RiskMatrix, plan: TargetPlan, weights: np.ndarray, idle_cash: float | None = None
) -> dict[str, float | None]:
    """Each direct-indexed sleeve's tracking error against its benchmark.  With ``idle_cash`` (cash
    above its target, as a fraction of the account) the sleeve's share of it, pro rata to the
    sleeve's weight, counts as uninvested sleeve money: the cash drag of harvest proceeds or of a
    buy a wash sale blocks."""
    out: dict[str, float | None] = {}
    held = plan.lookthrough @ weights if plan.lookthrough is not None else weights
    invested = sum(plan.sleeve_weights.values())
    for di in plan.direct_index:
        h = held[di.members]
        total = h.sum()
        if idle_cash is not None and invested > 0:
            total += idle_cash * plan.sleeve_weights.get(di.sleeve, 0.0) / invested
        if total <= 1e-12 or h.sum() <= 1e-12:
            out[di.sleeve] = None
            continue
        active = np.zeros(len(weights))
        active[di.members] = h / total - di.bench
        out[di.sleeve] = math.sqrt(max(risk.variance(active), 0.0))
    return out


def _report(prepared: _Prepared, fill: Fill, diagnostics: Diagnostics) -> RebalanceResult:
    request, book, plan, limits = prepared.request, prepared.book, prepared.plan, prepared.limits
    acct = request.account
    V = book.total_value
    price = book.price
    cost = limits.cost_rate
    if fill.sums is not None:  # (rounding's last sums, of this fill)
        sold, sell_value, buy_value = fill.sums
    else:
        sold = fill.sold(book)
        sell_value = float(sold @ price)
        buy_value = float(fill.bought @ price)
    qty_after = book.quantity - sold + fill.bought
    value_after = qty_after * price
    # ``fill.cash_after`` from the sums just taken (the same arithmetic, without taking them again).
    cash_after = book.cash + sell_value - buy_value - cost * (sell_value + buy_value)
    V_after = float(value_after.sum()) + cash_after
    w_before, w_after = book.weights, value_after / V_after
    # A substitute held for a model security is that security's position in the drift reported
    # (a tax-loss swap is not drift); the bands' test in ``limits`` is not changed by it. The drift
    # is the model's, whatever targets an instruction moved (``prepared.model_targets``).
    stand_in_for = stand_ins(book, plan, request.model, request.parameters, limits.harvest.substitutes)
    units = drift_units(book.symbols, plan, stand_in_for, prepared.model_targets)
    # A trade's "drift" reason: it moves its position toward this solve's targets (an instruction's
    # sale of all of X is toward X's target of 0), as the optimiser aimed.
    moving = units if prepared.model_targets is None else drift_units(book.symbols, plan, stand_in_for)
    # The positions' weights once, for the drift and for each trade's direction.
    position_before = units.weights(w_before, book.cash_weight)
    position_after = units.weights(w_after, cash_after / V_after)
    # Each position's distance from its target, before and after: the drift (``DriftUnits.drift``,
    # the same sums) and, against this solve's targets, whether a trade moves toward them.
    off_before = np.abs(position_before - units.target)
    off_after = np.abs(position_after - units.target)
    drift_before = float(0.5 * off_before.sum())
    drift_after = float(0.5 * off_after.sum())
    if moving is not units:
        off_before = np.abs(position_before - moving.target)
        off_after = np.abs(position_after - moving.target)
    toward = (off_after < off_before - 1e-9)[moving.unit]  # per security
    risk = prepared.risk
    if risk is None and plan.direct_index:
        risk = build_risk(book, plan, {})
    te_before = _te(risk, plan, w_before) if plan.direct_index else {}
    te_after = _te(risk, plan, w_after) if plan.direct_index else {}
    idle_before = max(book.cash_weight - plan.cash_target, 0.0)
    idle_after = max(cash_after / V_after - plan.cash_target, 0.0)
    te_cash_before = _te(risk, plan, w_before, idle_before) if plan.direct_index else {}
    te_cash_after = _te(risk, plan, w_after, idle_after) if plan.direct_index else {}

    # Realised results per lot.
    lot_sold = fill.lot_sold
    sold_lot = lot_sold > 0
    proceeds = lot_sold * price[book.lot_sec]
    basis = np.divide(book.lot_basis * lot_sold, book.lot_qty, out=np.zeros(len(lot_sold)), where=book.lot_qty > 0)
    gain = proceeds - basis
    gain[np.abs(gain) < 1e-9 * np.maximum(proceeds, 1.0)] = 0.0  # float noise is not a loss
    # Nothing is disallowed unless wash sales are allowed (``_disallowed_losses`` gives zeros then:
    # None here, and ``gain`` is what is recognised - it holds no -0.0 for a zero to turn).
    disallowed = None
    recognised = gain
    if prepared.request.parameters.wash_sale.allow:
        disallowed = _disallowed_losses(book, limits, lot_sold, gain, prepared.request.as_of)
        recognised = gain + disallowed
    long_ = book.lot_long
    st = recognised[~long_]
    lt = recognised[long_]
    st_gain, st_loss = float(st[st > 0].sum()), float(-st[st < 0].sum())
    lt_gain, lt_loss = float(lt[lt > 0].sum()), float(-lt[lt < 0].sum())
    net = st_gain - st_loss + lt_gain - lt_loss
    tax = 0.0
    if acct.taxable:
        # What the return(s) owe more for the run: netted with the return's year so far and the
        # losses carried in from earlier years (Schedule D; ``run_tax``, set up in the limits).
        tax = limits.run_tax(st_gain - st_loss, lt_gain - lt_loss)
    harvestable = limits.harvest.harvestable
    harvested = float(-recognised[harvestable & sold_lot & (recognised < 0)].sum())

    lot_results = (sold_lot, proceeds, basis, gain, disallowed, harvestable)
    # A trade with no reason of its own that does not move its position toward its target is there
    # for cash: a buy spends cash that would otherwise sit above its target (proceeds that cannot go
    # where the model wants them - a name a wash sale blocks, a screened or restricted one); a sale
    # raises cash that would otherwise fall below its target (the proposal's buys spend it).
    cash_line = (plan.cash_target + plan.cash_reserve) * V_after
    for_cash = np.where(
        sold > 0,
        cash_after - sold * price * (1.0 - cost) < cash_line,
        cash_after + fill.bought * price * (1.0 + cost) > cash_line,
    )
    trades = _trades(prepared, fill, toward, sold, lot_results, for_cash)
    summary = Summary(
        market_value=V,
        cash_before=book.cash,
        cash_after=cash_after,
        drift_before=drift_before,
        drift_after=drift_after,
        tracking_error_before=te_before,
        tracking_error_after=te_after,
        realised_short_term_gain=st_gain,
        realised_short_term_loss=st_loss,
        realised_long_term_gain=lt_gain,
        realised_long_term_loss=lt_loss,
        net_realised_gain=net,
        estimated_tax=tax,
        harvested_losses=harvested,
        disallowed_losses=0.0 if disallowed is None else float(disallowed.sum()),
        turnover=(buy_value + sell_value) / (2 * V),
        trading_cost=cost * (buy_value + sell_value),
        buy_value=buy_value,
        sell_value=sell_value,
        trade_count=len(trades),
        tracking_error_with_cash_before=te_cash_before,
        tracking_error_with_cash_after=te_cash_after,
    )
    warnings = [*plan.warnings, *limits.warnings, *fill.notes]
    alerts = _opportunities_left(book, limits, lot_sold, limits.alerts)
    _budget_messages(prepared, net, drift_before, drift_after, warnings, alerts)
    _position_messages(prepared, qty_after, fill, warnings, alerts)
    _cash_message(prepared, cash_after, cash_line, warnings)
    if (washed := disallowed_alert(summary.disallowed_losses)) is not None:
        alerts.append(washed)
    if limits.inside_band and not np.count_nonzero(sold_lot) and not np.count_nonzero(fill.bought):
        warnings.append("every position is inside its drift band: nothing to trade")

    def weights(w: np.ndarray, cash_w: float) -> dict[str, float]:
        # (The pairs with a positive weight, picked in C: cheaper than a comprehension's test per pair.)
        out = dict(compress(zip(book.symbols, w.tolist(), strict=True), (w > 0).tolist()))
        out[CASH_KEY] = cash_w
        return out

    targets = weights(plan.target, plan.cash_target)
    return RebalanceResult(
        account_id=acct.id,
        as_of=request.as_of,
        trades=tuple(trades),
        summary=summary,
        weights_before=weights(w_before, book.cash_weight),
        weights_after=weights(w_after, cash_after / V_after),
        targets=targets,
        warnings=tuple(warnings),
        alerts=tuple(alerts),
        diagnostics=diagnostics,
        blocked_buys=_blocked_buys(prepared, fill, gain, value_after, V_after, sold_lot, stand_in_for),
    )


def _blocked_buys(
    prepared: _Prepared,
    fill: Fill,
    gain: np.ndarray,
    value_after: np.ndarray,
    V_after: float,
    sold_lot: np.ndarray,
    stand_in_for: dict[int, int],
) -> tuple[BlockedBuy, ...]:
    """Securities left below target because a loss sale (in the household's window, or in this
    proposal) blocks buying them, with the sale that blocks each and when it stops blocking
    (``sold_lot``: the lots the proposal sells), and how much of the gap what stands in for each
    holds (``stand_in_for``: stand-in -> model security, ``drift.stand_ins``)."""
    request, book, plan, limits = prepared.request, prepared.book, prepared.plan, prepared.limits
    shortfall = plan.target * V_after - value_after
    under = ((shortfall >= 0.01) & (fill.bought <= 0)).nonzero()[0]
    if not len(under):
        return ()
    # This proposal's loss sales, by group: the security with the largest loss speaks for it. An
    # IRA's or Roth's sales realise nothing for tax (IRC §408(e)(1)): no loss of theirs is washed.
    loss_sold = sold_lot & (gain < 0) if request.account.taxable else np.zeros(len(gain), dtype=bool)
    loss_by_sec = np.bincount(book.lot_sec, weights=np.where(loss_sold, -gain, 0.0), minlength=book.n)
    proposal: dict[int, int] = {}
    group, loss_l, shortfall_l = limits.group.tolist(), loss_by_sec.tolist(), shortfall.tolist()
    for i in (loss_by_sec > 0).nonzero()[0].tolist():
        g = group[i]
        if g not in proposal or loss_l[i] > loss_l[proposal[g]]:
            proposal[g] = i
    household = {}
    # (The household's sales speak only for a group with a loss sale in the window.)
    if limits.window_loss_groups and not request.parameters.wash_sale.allow:
        eq = Equivalence(request.parameters.wash_sale.equivalent_groups)
        household = latest_loss_sales(request.as_of, request.account.household_trades, eq)
    # A stand-in (its harvest substitute, a member of its group) above its own target holds that
    # much of the blocked name's place: invested, not waiting (``limits._hold_blocked_shortfall``).
    held: dict[int, list[tuple[str, float]]] = {}
    for j, i in stand_in_for.items():
        above = -shortfall_l[j]  # (value - target: the shortfall's negative, to the bit)
        if above >= 0.01:
            held.setdefault(i, []).append((book.symbols[j], above))
    out = []
    today_clear = buyable_on(request.as_of)  # (this proposal's sales: one day, one date to compute)
    for i in under.tolist():
        g = group[i]
        if g in proposal:
            j = proposal[g]
            sale = (book.symbols[j], request.as_of, request.account.id, loss_l[j], True)
        elif g in limits.window_loss_groups and household:
            t = household.get(eq.group(book.symbols[i]))
            if t is None:
                continue
            loss = None if t.realised_gain is None else -t.realised_gain
            sale = (t.symbol, t.date, t.account_id, loss, False)
        else:
            continue
        by = sorted(held.get(i, ()))
        in_place = min(sum(value for _, value in by), shortfall_l[i])
        clear = today_clear if sale[4] else buyable_on(sale[1])
        out.append(BlockedBuy(book.symbols[i], shortfall_l[i], *sale, clear,
                              held_in_place=in_place, held_by=tuple(symbol for symbol, _ in by)))
    return tuple(sorted(out, key=lambda b: -b.shortfall))


def _disallowed_losses(book, limits, lot_sold: np.ndarray, gain: np.ndarray, as_of) -> np.ndarray:
    """The loss of each lot sold that an allowed wash sale disallows, share by share as the
    ledger's replay will (``ledger.wash_sales._Replayer``; IRC §1091(a); Treas. Reg.
    §1.1091-1(b)-(d); Pub. 550): per group, the loss shares of all the proposal's sales (one day,
    in no known order) in the order they were bought (§1.1091-1(b); the purchase, not a holding
    period tacked back by §1223(3)), each absorbing one share of the household's window
    purchases, earliest purchase first, only as many as were bought (fewer bought than sold: only
    their part is disallowed). The loss lot's own purchase is not its replacement (Rev. Rul.
    56-602), nor are the shares this proposal sells. Zero where nothing can replace (wash sales not allowed, or an
    IRA or Roth, whose sales realise nothing)."""
    out = np.zeros(len(lot_sold))
    if not limits.replacement_shares.any():
        return out
    selling_loss = (lot_sold > 0) & (gain < 0)
    if not selling_loss.any():
        return out
    group = limits.group[book.lot_sec]
    # Where a lot's shares stand in the ledger's order: the day bought (a received lot: its
    # ``acquired``, never in the window), then its id.
    day = np.where(book.lot_bought_on > 0, book.lot_bought_on, book.lot_acquired).tolist()
    sold_l, gain_l, ids = lot_sold.tolist(), gain.tolist(), book.lot_ids
    for g in sorted(set(group[selling_loss].tolist())):
        purchases = limits.replacement_purchases.get(g)
        if not purchases:
            continue
        # Shares this proposal sells of a purchase are not candidates (the sale's own shares).
        free = [max(shares - sum(sold_l[i] for i in lots), 0.0) for shares, lots in purchases]
        purchase_of = {i: n for n, (_, lots) in enumerate(purchases) for i in lots}
        # The group's loss shares across its securities' sales, in the order bought: not one
        # security's sale after another (before 2026-12-06 the sale holding the oldest lot went
        # first, washing its newer shares before another sale's older ones).
        losses = sorted(((group == g) & selling_loss).nonzero()[0].tolist(), key=lambda i: (day[i], ids[i]))
        for i in losses:
            need, own = sold_l[i], purchase_of.get(i)
            for n, shares in enumerate(free):
                if need <= 0:
                    break
                if shares > 0 and n != own:
                    take = min(need, shares)
                    free[n] -= take
                    need -= take
            out[i] = -gain_l[i] * (sold_l[i] - need) / sold_l[i]
    return out


def _lot_sales(book, fill, lot_results) -> tuple[list[LotSale], np.ndarray, np.ndarray]:
    """One LotSale per sold lot, built in one pass (columns, not a loop per sale: a direct index
    sells hundreds), with the sold lots' indices and their securities; lots are sorted by security,
    so a security's sales are a contiguous run. ``lot_results``: as ``_trades`` takes them."""
    sold_lot, proceeds, basis, gain, disallowed, _ = lot_results
    sold_lots = sold_lot.nonzero()[0]
    sales = build_many(
        LotSale,
        list(compress(book.lot_ids, sold_lot.tolist())),
        fill.lot_sold[sold_lots].tolist(),
        proceeds[sold_lots].tolist(),
        basis[sold_lots].tolist(),
        gain[sold_lots].tolist(),
        list(map(_TERMS.__getitem__, book.lot_long[sold_lots].tolist())),
        [0.0] * len(sold_lots) if disallowed is None else disallowed[sold_lots].tolist(),
    )
    return sales, sold_lots, book.lot_sec[sold_lots]


def _trades(
    prepared: _Prepared,
    fill: Fill,
    toward: np.ndarray,
    sold: np.ndarray,
    lot_results: tuple,
    for_cash: np.ndarray,
) -> list[Trade]:
    """The trades; ``toward``: per security, whether its position moves toward this solve's target;
    ``for_cash``: whether its trade is there for cash (``_report``);
    ``lot_results``: per lot, whether sold, the proceeds, basis, gain and disallowed loss (None:
    nothing is), and whether a harvest (``_report``)."""
    selling = sold > 0
    if int(np.count_nonzero(selling | (fill.bought > 0))) <= FEW_TRADES:
        return _few_trades(prepared, fill, toward, sold, lot_results, for_cash)
    sold_lot, _, _, gain, _, harvestable = lot_results
    book, plan, limits = prepared.book, prepared.plan, prepared.limits
    p = prepared.request.parameters
    effects = prepared.effects
    cost = limits.cost_rate
    price = book.price
    di_sleeves = {d.sleeve for d in plan.direct_index}
    sleeves_screen = {plan.sleeve_of[i] for i in (selling & plan.excluded).nonzero()[0]}
    sleeves_harvest = {plan.sleeve_of[i] for i in set(book.lot_sec[harvestable & sold_lot].tolist())}
    removed_sold = bool((selling & plan.removed).any())
    cash_w = book.cash_weight
    cash_short = (
        cash_w < plan.cash_floor - 1e-9 or cash_w < plan.cash_target - 0.005 or effects.raise_cash > 0
    )
    cash_long = cash_w > plan.cash_target + 0.005
    harvest_subs = set(limits.harvest.substitutes.values())
    sales, sold_lots, sold_sec = _lot_sales(book, fill, lot_results)
    sec_gain = np.bincount(sold_sec, weights=gain[sold_lots], minlength=book.n)
    harvested = np.bincount(sold_sec, weights=harvestable[sold_lots], minlength=book.n) > 0
    # Sells first, then buys, each by symbol.
    by_symbol = book.symbols.__getitem__
    order = sorted(selling.nonzero()[0].tolist(), key=by_symbol) + sorted(
        (~selling & (fill.bought > 0)).nonzero()[0].tolist(), key=by_symbol
    )
    idx = np.array(order, dtype=np.int64)
    sell = selling[idx]
    first = np.searchsorted(sold_sec, idx, side="left").tolist()
    last = np.searchsorted(sold_sec, idx, side="right").tolist()
    sleeves = list(map(plan.sleeve_of.__getitem__, order))
    in_di = np.array([s in di_sleeves for s in sleeves], dtype=bool)
    # Each trade's reasons as bits (``_BIT``), a sale's and a buy's side by side.
    sell_bits = (
        np.where(harvested[idx], _BIT["harvest"], 0)
        | np.where(plan.excluded[idx], _BIT["screen"], 0)
        | np.where(plan.removed[idx], _BIT["removed_asset_class"], 0)
    )
    if cash_short and not effects.liquidate:
        sell_bits |= _BIT["cash" if effects.raise_cash <= 0 or cash_w < plan.cash_floor else "instruction"]
    buy_harvest = np.array(
        [
            i in harvest_subs or (d and s in sleeves_harvest)
            for i, s, d in zip(order, sleeves, in_di.tolist(), strict=True)
        ],
        dtype=bool,
    )
    buy_screen = np.array([s is not None and s in sleeves_screen for s in sleeves], dtype=bool)
    buy_bits = np.where(buy_harvest, _BIT["harvest"], 0) | np.where(buy_screen, _BIT["screen"], 0)
    buy_bits |= (_BIT["removed_asset_class"] if removed_sold else 0) | (_BIT["cash"] if cash_long else 0)
    bits = np.where(sell, sell_bits, buy_bits) | np.where(in_di, _BIT["direct_index"], 0)
    bits |= np.where(plan.restricted[idx], _BIT["restriction"], 0)
    if effects.liquidate or effects.bring_to_model:
        # (Bringing the account back to its model is the instruction every trade carries out.)
        bits |= _BIT["instruction"]
    elif limits.instruction_secs:
        bits |= np.where(np.isin(idx, list(limits.instruction_secs)), _BIT["instruction"], 0)
    moving = _BIT["transition" if p.transition is not None else "drift"]
    # A trade with no reason of its own - or a harvest that also sells a lot at a gain (the harvest
    # is not why that lot is sold) - moves toward its target, or is there for cash, or (neither
    # holds) is the optimiser's move toward its targets: "drift" / "transition".
    mixed = np.bincount(sold_sec, weights=(gain[sold_lots] > 0) & ~harvestable[sold_lots], minlength=book.n) > 0
    unexplained = (bits == 0) | (sell & mixed[idx] & (bits == _BIT["harvest"]))
    cash_only = unexplained & ~toward[idx] & for_cash[idx]
    bits |= np.where(cash_only, _BIT["cash"], 0)
    bits |= np.where(toward[idx] | (unexplained & ~cash_only), moving, 0)
    qty = np.where(sell, sold[idx], fill.bought[idx])
    value = qty * price[idx]
    sell_l = sell.tolist()
    return build_many(
        Trade,
        list(map(book.symbols.__getitem__, order)),
        list(map(_SIDES.__getitem__, sell_l)),
        qty.tolist(),
        price[idx].tolist(),
        value.tolist(),
        list(map(_reasons, bits.tolist())),
        [tuple(sales[a:b]) if s else () for s, a, b in zip(sell_l, first, last, strict=True)],
        np.where(sell, sec_gain[idx], 0.0).tolist(),
        (cost * value).tolist(),
    )


def _few_trades(
    prepared: _Prepared,
    fill: Fill,
    toward: np.ndarray,
    sold: np.ndarray,
    lot_results: tuple,
    for_cash: np.ndarray,
) -> list[Trade]:
    book, plan, limits = prepared.book, prepared.plan, prepared.limits
    p = prepared.request.parameters
    effects = prepared.effects
    cost = limits.cost_rate
    toward, for_cash = toward.tolist(), for_cash.tolist()
    di_sleeves = {d.sleeve for d in plan.direct_index}
    selling = sold > 0
    bought = fill.bought > 0
    sold_lot, _, _, gain, _, harvestable = lot_results
    sales, sold_lots, sold_sec = _lot_sales(book, fill, lot_results)
    sec_gain = np.bincount(sold_sec, weights=gain[sold_lots], minlength=book.n).tolist()
    # The securities with a harvested lot sold; each security's run of lot sales is found by
    # bisection below (lots are sorted by security).
    sold_sec_l = sold_sec.tolist()
    harvested = set(compress(sold_sec_l, harvestable[sold_lots].tolist()))
    # Securities a harvest sells with a lot at a gain the harvest is not why it is sold.
    mixed = set(compress(sold_sec_l, ((gain[sold_lots] > 0) & ~harvestable[sold_lots]).tolist()))
    # Sells first, then buys, each by symbol; the per-trade work below is a few dozen trades of
    # Python values (numpy's per-call cost is the larger one at that size).
    symbols = book.symbols
    sells = sorted(selling.nonzero()[0].tolist(), key=symbols.__getitem__)
    buys = sorted((~selling & bought).nonzero()[0].tolist(), key=symbols.__getitem__)
    sleeve_of = plan.sleeve_of
    excluded, removed, restricted = plan.excluded.tolist(), plan.removed.tolist(), plan.restricted.tolist()
    sleeves_screen = {sleeve_of[i] for i in sells if excluded[i]}
    sleeves_harvest = {sleeve_of[i] for i in harvested}
    cash_w = book.cash_weight
    cash_short = (
        cash_w < plan.cash_floor - 1e-9 or cash_w < plan.cash_target - 0.005 or effects.raise_cash > 0
    )
    harvest_subs = set(limits.harvest.substitutes.values())
    # Reasons as bits (``_BIT``): what every sale, every buy and every trade shares first.
    sell_common = 0
    if cash_short and not effects.liquidate:
        sell_common = _BIT["cash" if effects.raise_cash <= 0 or cash_w < plan.cash_floor else "instruction"]
    buy_common = (_BIT["removed_asset_class"] if any(removed[i] for i in sells) else 0) | (
        _BIT["cash"] if cash_w > plan.cash_target + 0.005 else 0
    )
    instruction = _BIT["instruction"] if effects.liquidate or effects.bring_to_model else 0
    instruction_secs = () if instruction else limits.instruction_secs
    moving = _BIT["transition" if p.transition is not None else "drift"]
    sold_l, bought_l, price_l = sold.tolist(), fill.bought.tolist(), book.price.tolist()
    # Each trade built as ``Trade``'s plain twin, all made ``Trade``s at the end (``result.draft_of``).
    rows: list = []
    add, draft = rows.append, draft_of(Trade)
    for sell, order in ((True, sells), (False, buys)):
        for i in order:
            sleeve = sleeve_of[i]
            in_di = sleeve in di_sleeves
            if sell:
                bits = sell_common
                if i in harvested:
                    bits |= _BIT["harvest"]
                if excluded[i]:
                    bits |= _BIT["screen"]
                if removed[i]:
                    bits |= _BIT["removed_asset_class"]
                qty = sold_l[i]
                lots = tuple(sales[bisect_left(sold_sec_l, i) : bisect_right(sold_sec_l, i)])
                realised = sec_gain[i]
            else:
                bits = buy_common
                if i in harvest_subs or (in_di and sleeve in sleeves_harvest):
                    bits |= _BIT["harvest"]
                if sleeve is not None and sleeve in sleeves_screen:
                    bits |= _BIT["screen"]
                qty = bought_l[i]
                lots = ()
                realised = 0.0
            if in_di:
                bits |= _BIT["direct_index"]
            if restricted[i]:
                bits |= _BIT["restriction"]
            bits |= instruction
            if i in instruction_secs:
                bits |= _BIT["instruction"]
            unexplained = not bits or (sell and bits == _BIT["harvest"] and i in mixed)
            if unexplained and not toward[i] and for_cash[i]:
                bits |= _BIT["cash"]
            elif toward[i] or unexplained:
                bits |= moving
            value = qty * price_l[i]
            add(draft(symbols[i], _SIDES[sell], qty, price_l[i], value, _reasons(bits), lots, realised, cost * value))
    return finished(Trade, rows)


# A lot sale's term and a trade's side by a boolean (long / sell): the same two strings each time.
_TERMS = ("short", "long")
_SIDES = ("buy", "sell")
# Up to this many trades the list is built trade by trade on Python values (``_few_trades``), past
# it column by column with numpy (``_trades``): the same trades, to the bit.
FEW_TRADES = 64
# Trade reasons as bits, listed on a trade in the order of ``REASONS``.
_BIT = {reason: 1 << k for k, reason in enumerate(REASONS)}


@functools.cache
def _reasons(bits: int) -> tuple[str, ...]:
    return tuple(r for r in REASONS if bits & _BIT[r])


def _opportunities_left(book: Book, limits: Limits, lot_sold: np.ndarray, alerts: list[Alert]) -> list[Alert]:
    """The alerts, a harvest opportunity reporting the loss its lots still hold after the proposal's
    sales: gone when they are sold, smaller when partly; a sale of the name's other lots (a recent
    purchase trimmed for drift) leaves it whole."""
    reported = limits.harvest.reported
    if reported is None or not any(a.code == "harvest_opportunity" for a in alerts):
        return list(alerts)
    kept = np.divide(book.lot_qty - lot_sold, book.lot_qty, out=np.zeros(len(lot_sold)), where=book.lot_qty > 0)
    left = opportunity_by_symbol(book, reported, kept)
    out = []
    for a in alerts:
        if a.code != "harvest_opportunity":
            out.append(a)
        elif left.get(a.symbol, 0.0) >= 0.005:
            out.append(a if abs(left[a.symbol] - (a.amount or 0.0)) < 0.005
                       else harvest_alert(a.symbol, left[a.symbol], limits.harvest.reported_why[a.symbol]))
    return out


def _budget_messages(
    prepared: _Prepared, net: float, drift_before: float, drift_after: float, warnings: list, alerts: list
) -> None:
    p = prepared.request.parameters
    limits = prepared.limits
    V = prepared.book.total_value
    if p.transition is None or not prepared.request.account.taxable:
        return
    acct = prepared.request.account
    # (The words only for a limit exceeded: most proposals keep within theirs.)
    cap = p.transition.max_net_gain_per_run
    if cap is not None and net > cap + 0.005:
        words = f"the proposal realises {dollars(net)} of net gains, above the per run limit of {dollars(cap)}"
        alerts.append(Alert("tax_limit_exceeded", words, amount=cents(net - cap)))
    cap = p.transition.max_net_gain_per_year
    if cap is not None:
        ytd = acct.realised_short_term_ytd + acct.realised_long_term_ytd
        if ytd + net > cap + 0.005:
            words = (f"with the proposal the year's net gains would be {dollars(ytd + net)} ({dollars(ytd)} so far), "
                     f"above the per year limit of {dollars(cap)}")
            alerts.append(Alert("tax_limit_exceeded", words, amount=cents(ytd + net - cap)))
    if limits.budget < math.inf and drift_after > 0.002:
        budget = limits.budget * V
        if prepared.budget_binding and drift_before > 0:
            progress = max(0.0, (drift_before - drift_after) / drift_before)
            warnings.append(
                f"the limit on net realised gain stopped the transition at {progress:.0%} of the way "
                f"(net gain {dollars(net)} of {dollars(budget)} allowed)"
            )


def _cash_message(prepared: _Prepared, cash_after: float, cash_line: float, warnings: list) -> None:
    """Say so when the proposal spends cash far below its target: the target is a penalty weighed
    against drift (docs/engine.md, "Formulation"), not a floor, so where sales are held back (the gains
    budget, restrictions) the optimiser may invest most of it. A shortfall of a quarter of the target
    or less is routine (whole shares) and goes unsaid."""
    cash_before = prepared.book.cash
    if cash_after >= cash_before - 0.005 or cash_line - cash_after <= 0.25 * cash_line + 0.005:
        return
    why = (" while the limit on net realised gain holds sales back" if prepared.budget_binding else "")
    warnings.append(
        f"cash after the trades is {dollars(cash_after)}, below the cash target of {dollars(cash_line)} "
        f"({dollars(cash_before)} before): the rest is invested to bring holdings toward the model{why}; "
        "a cash floor keeps cash from going below a level"
    )


def _position_messages(
    prepared: _Prepared, qty_after: np.ndarray, fill: Fill, warnings: list, alerts: list
) -> None:
    book, plan, limits = prepared.book, prepared.plan, prepared.limits
    p = prepared.request.parameters
    out_of_model = plan.excluded | plan.removed
    for i in ((qty_after > 1e-9) & out_of_model).nonzero()[0] if np.count_nonzero(out_of_model) else ():
        why = "excluded by the screen" if plan.excluded[i] else "in a removed asset class"
        warnings.append(f"{book.symbols[i]} is {why} but kept (the limit on net realised gain, a restriction or turnover)")
    for di in plan.direct_index:
        cap = di.params.max_names
        if cap is None:
            continue
        count = int((qty_after[di.members] > 1e-9).sum())
        if count > cap:
            alerts.append(
                Alert(
                    "max_names_exceeded",
                    f"sleeve {di.sleeve} holds {count} names, above its maximum of {cap} (the rest are kept by "
                    "the limit on net realised gain, the turnover cap, a restriction or the wash-sale window)",
                    amount=float(count),
                )
            )
    if p.wash_sale.allow:
        disallowed_groups = [
            book.symbols[i]
            for i in (fill.bought > 0).nonzero()[0]
            if limits.group[i] in limits.window_loss_groups
        ]
        alerts.extend(map(washing_purchase_alert, disallowed_groups))
