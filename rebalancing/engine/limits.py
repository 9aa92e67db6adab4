"""Bounds of the optimisation: what may be sold and bought, and the budgets.

This is where the parameters become constraints: restrictions, wash-sale rules, harvesting,
instructions, drift bands and the tax budget.  The no-wash-sale guarantee is built here by
construction (bounds only, so the problem stays convex): a security whose loss lots may be sold
in this trade is not bought, and a security that may be bought has its loss lots frozen.
Without that rule a linear tax credit makes the optimiser sell every losing lot and buy it back.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

import numpy as np

from .drift import drift_units, out_of_band, stand_ins
from .errors import InfeasibleParameters
from .harvest import HarvestPlan, loss_candidates, offsetting_losses, opportunity_by_symbol
from .instructions import InstructionEffects, swap_fraction
from .money import cents
from .optimizer import tax_weight
from .parameters import HarvestParams, Instruction
from .positions import Book, lot_sums
from .request import RebalanceRequest
from .result import CASH_KEY, Alert
from .targets import TargetPlan
from .tax import RunTax
from .wash_sales import WINDOW_DAYS, Equivalence, WindowActivity, harvestable_on, window_activity
from .words import dollars

__all__ = ["Limits", "build_limits", "harvest_alert", "reopen_unharvested", "UNBOUNDED_BUY"]

UNBOUNDED_BUY = 1.0
# How long a harvest keeps a direct-indexed name off its target: the 30-day wash-sale window (one
# monthly run); a gain left unrealised keeps its position off target far longer (a year).
HARVEST_HORIZON_YEARS = 1 / 12
# A harvest realising less than this (currency) is none.
DUST_LOSS = 0.01
# Weights within this of the target count as at target (1e-17 above is float noise, not overweight).
TARGET_TOLERANCE = 1e-9
# A lot's gain at most this (currency) is none: value less basis, each to the cent, in floats.
ZERO_GAIN = 1e-6


@dataclass(slots=True, eq=False)
class Limits:
    """Bounds (fractions of account value) and flags for one optimisation.

    Lot arrays: ``x_lb``/``x_ub`` sold, ``tax`` objective cost and ``gain`` budget use per unit
    sold, ``disallowed`` share of a loss disallowed by an allowed wash sale, ``forced`` lots that
    must be sold entirely.  Security arrays: ``b_lb``/``b_ub`` bought, ``s_lb`` minimum sold.
    """

    x_lb: np.ndarray
    x_ub: np.ndarray
    tax: np.ndarray
    gain: np.ndarray
    disallowed: np.ndarray
    forced: np.ndarray
    b_lb: np.ndarray
    b_ub: np.ndarray
    s_lb: np.ndarray
    budget: float
    budget_limit: float | None
    max_turnover: float
    cost_rate: float
    cash_floor: float
    cash_target: float
    harvest: HarvestPlan
    group: np.ndarray
    window_loss_groups: set[int]
    instruction_secs: set[int]
    frozen: np.ndarray
    inside_band: bool
    breached: list[str]
    harvest_min_loss: float = 0.0
    # What the run's net short- and long-term results cost the account's returns (taxable only):
    # ``tax_optimal`` relief picks the lots the year's netting makes cheapest with it.
    run_tax: RunTax | None = None
    b_open: np.ndarray | None = None
    direct_indexed: np.ndarray | None = None
    alerts: list[Alert] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # Shares of each group (by ``group`` id) bought in the household's window: what may replace a
    # loss the proposal realises when wash sales are allowed (an allowed wash sale's figures).
    replacement_shares: np.ndarray = field(default_factory=lambda: np.zeros(0))
    # The same shares purchase by purchase, per group id, in the order the ledger's replay takes
    # them (``WindowPurchase.order``): (shares, the book's indices of the account's lots that are
    # shares of that purchase). Empty when ``replacement_shares`` is.
    replacement_purchases: dict[int, list[tuple[float, tuple[int, ...]]]] = field(default_factory=dict)


# The household window with nothing in it (only read, never changed).
_NO_WINDOW = WindowActivity({}, {}, {})

# What forbids an instruction's purchase, in words (the parameter stays in the error's conflicts).
_FORBIDDEN_BY = {
    "screen": "the account's values screen",
    "restrictions.hold": "a hold restriction",
    "restrictions.do_not_buy": "a do-not-buy restriction",
    "removed_asset_classes": "the removal of its asset class from the model",
    "wash_sale.allow": "the wash-sale rule (a loss sale of it in the household's last 30 days)",
    "wash_sale.equivalent_groups": "the wash-sale rule (it is substantially identical to what the instruction sells "
                                   "at a loss)",
}


def _mask(book: Book, symbols) -> np.ndarray:
    m = np.zeros(book.n, dtype=bool)
    for s in symbols:
        i = book.index.get(s)
        if i is not None:
            m[i] = True
    return m


def build_limits(
    request: RebalanceRequest, book: Book, plan: TargetPlan, effects: InstructionEffects
) -> Limits:
    """Turn the parameters into bounds; raise ``InfeasibleParameters`` on explicit conflicts."""
    p = request.parameters
    acct = request.account
    V = book.total_value
    n, nl = book.n, len(book.lots)
    lot_sec = book.lot_sec
    w0 = book.weights
    taxable = acct.taxable
    alerts: list[Alert] = []
    warnings: list[str] = []

    x_lb = np.zeros(nl)
    x_ub = book.lot_value / V
    b_lb = np.zeros(n)
    s_lb = np.zeros(n)
    b_ub = np.where(plan.buyable, UNBOUNDED_BUY, 0.0)
    loss = (book.lot_gain < 0) & (book.lot_qty > 0)
    disallowed = np.zeros(nl)

    # Restrictions (the masks are only read below: one array of zeros serves all three when none).
    r = p.restrictions
    if r.hold or r.do_not_sell or r.do_not_buy:
        hold = _mask(book, r.hold)
        no_sell = hold | _mask(book, r.do_not_sell)
        no_buy = hold | _mask(book, r.do_not_buy)
        x_ub[no_sell[lot_sec]] = 0.0
        b_ub[no_buy] = 0.0
    else:
        hold = no_sell = no_buy = np.zeros(n, dtype=bool)

    # Wash sales: groups of substantially identical securities, household window.
    eq = Equivalence(p.wash_sale.equivalent_groups)
    if p.wash_sale.equivalent_groups:
        keys = eq.groups(book.symbols)
        key_id = {k: i for i, k in enumerate(dict.fromkeys(keys))}
        group = np.fromiter(map(key_id.__getitem__, keys), np.int64, n)
    else:
        # Each security its own group, numbered as the book numbers it (what the lines above give).
        keys, key_id, group = book.symbols, book.index, np.arange(n)
    # Only lots bought in the window can be purchases in it: found in one pass over the dates,
    # then read in the request's order (the order ``window_activity`` adds their quantities in).
    opened = (request.as_of - timedelta(days=WINDOW_DAYS)).toordinal()
    in_window = ((book.lot_bought_on >= opened) & (book.lot_bought_on <= request.as_of.toordinal())).nonzero()[0]
    if len(in_window) or acct.household_trades:
        in_window = in_window[book.lot_origin[in_window].argsort()].tolist()
        recent_lots = list(map(book.lots.__getitem__, in_window))
        window = window_activity(request.as_of, acct.household_trades, recent_lots, eq, acct.id, acct.bought_on())
        window_loss_groups = {key_id[k] for k in window.loss_sales if k in key_id}
        bought_recently = np.fromiter(map(window.purchases.__contains__, keys), bool, n)
        loss_sale_recently = np.fromiter(map(window.loss_sales.__contains__, keys), bool, n)
        wash_frozen = loss & bought_recently[lot_sec] & (x_ub > 0)
    else:
        # Nothing bought or sold in the household's window (no trade, no lot acquired in it): what
        # ``window_activity`` returns then, and no bound below moves.
        window = _NO_WINDOW
        window_loss_groups = set()
        loss_sale_recently = np.zeros(n, dtype=bool)
        wash_frozen = np.zeros(nl, dtype=bool)
    blocked_buys = None  # names a loss sale in the window keeps this account from buying
    # (Masks that can hold nothing are not read below: a disallowed share only when wash sales are
    # allowed and the window bought something; unbuyable names only with a screen, a restriction or
    # a loss sale in the window.)
    any_disallowed = False
    any_unbuyable = p.screen is not None or bool(r.hold or r.do_not_buy) or bool(window.loss_sales)
    if not (window.purchases or window.loss_sales):
        pass  # an empty window freezes, blocks and disallows nothing
    elif p.wash_sale.allow:
        any_disallowed = True
        # Disallowed share of each loss = replacement shares / loss shares in the group (Pub. 550).
        # A sale inside an IRA or Roth realises no loss, so there is none to disallow (§1091 is
        # about losses recognised; the ledger records none there).
        for k, bought in window.purchases.items() if taxable else ():
            if k not in key_id:
                continue
            lots_k = wash_frozen & (group[lot_sec] == key_id[k])
            shares = book.lot_qty[lots_k].sum()
            if shares > 0:
                disallowed[lots_k] = min(1.0, bought / shares)
        wash_frozen[:] = False
    else:
        x_ub[wash_frozen] = 0.0
        b_ub[loss_sale_recently] = 0.0
        blocked_buys = loss_sale_recently

    instruction_secs: set[int] = set()
    forced = np.zeros(nl, dtype=bool)
    # Whether a limit on net realised gain binds this run (the tax budget below): not in a
    # tax-deferred account, nor when an instruction sets it aside.
    t = p.transition
    budget_applies = (
        t is not None and taxable and not (effects.liquidate or effects.bring_to_model)
        and (t.max_net_gain_per_run is not None or t.max_net_gain_per_year is not None)
    )
    # Lots whose sale realises no gain: they cost nothing against a net-gain budget (a loss frees
    # some), so the budget cannot be what keeps them.
    costless = book.lot_gain <= ZERO_GAIN
    # Under a budget, the lots of holdings that must go (screened out, beyond max_names) whose sale
    # costs it nothing: sold outright, after an instruction's forced gain is counted (below).
    must_go = np.zeros(nl, dtype=bool)
    # A screen is the client's values: excluded holdings are sold outright, unless a transition
    # budget asks to sell them as taxes allow (then they simply have no target).
    if p.screen is not None:
        screened = plan.excluded[lot_sec] & (x_ub > 0) & ~wash_frozen & (book.lot_qty > 0)
        if not budget_applies:
            forced |= screened
        else:
            # Under a budget the optimiser sells them as taxes allow (without a reference it
            # wants to); a lot sold at no gain or at a loss is not the budget's to keep.
            plan.reference[plan.excluded & (book.quantity > 0)] = 0.0
            must_go |= screened & costless
    forced_gain = 0.0
    if effects.liquidate:
        held = book.quantity > 0
        for name, mask in (("restrictions.hold", hold), ("restrictions.do_not_sell", no_sell & ~hold)):
            if (mask & held).any():
                raise InfeasibleParameters(
                    "cannot liquidate: some positions may not be sold", ["instructions.liquidate", name]
                )
        if wash_frozen.any():
            raise InfeasibleParameters(
                "liquidating would sell at a loss within 30 days of a purchase (a wash sale)",
                ["instructions.liquidate", "wash_sale.allow"],
            )
        forced = book.lot_qty > 0
        b_ub[:] = 0.0
        instruction_secs.update(np.flatnonzero(held).tolist())
    sold_by: dict[int, Instruction] = {}
    bought_by: dict[int, Instruction] = {}
    for ins in effects.swaps:
        i = book.index[ins.sell]
        j = None if ins.buy is None else book.index[ins.buy]
        # One instruction selling what another buys undoes it (and at a loss washes it).
        for sec, seller, buyer in ((i, ins, bought_by.get(i)), (j, sold_by.get(j), ins)):
            if seller is not None and buyer is not None:
                raise InfeasibleParameters(
                    f"two instructions contradict each other: {_said(seller)} sells {book.symbols[sec]} and "
                    f"{_said(buyer)} buys it", ["instructions"],
                )
        sold_by[i] = ins
        if j is not None:
            bought_by[j] = ins
        instruction_secs.add(i)
        if no_sell[i]:
            name = "restrictions.hold" if hold[i] else "restrictions.do_not_sell"
            raise InfeasibleParameters(
                f"instruction sells {ins.sell}, which may not be sold", ["instructions", name]
            )
        lots_i = lot_sec == i
        sold = swap_fraction(ins, book)
        if ins.quantity is None and ins.amount is None:
            if (wash_frozen & lots_i).any():
                raise InfeasibleParameters(
                    f"selling {ins.sell} at a loss within 30 days of a purchase is a wash sale",
                    ["instructions", "wash_sale.allow"],
                )
            forced |= lots_i & (book.lot_qty > 0)
        else:
            s_lb[i] = max(s_lb[i], sold - 1e-12)
        b_ub[i] = 0.0
        if j is None:
            continue
        instruction_secs.add(j)
        conflict = None
        if plan.excluded[j]:
            conflict = "screen"
        elif no_buy[j]:
            conflict = "restrictions.hold" if hold[j] else "restrictions.do_not_buy"
        elif plan.removed[j]:
            conflict = "removed_asset_classes"
        elif loss_sale_recently[j] and not p.wash_sale.allow:
            conflict = "wash_sale.allow"
        elif group[j] == group[i] and (loss & lots_i).any():
            conflict = "wash_sale.equivalent_groups"
        if conflict:
            raise InfeasibleParameters(
                f"instruction buys {ins.buy}, which {_FORBIDDEN_BY[conflict]} forbids", ["instructions", conflict]
            )
        cost = p.trading.trading_cost_bps / 1e4
        b_ub[j] = UNBOUNDED_BUY
        # (Summed: two sales each buying Y buy Y with both their proceeds.)
        b_lb[j] += sold * (1 - cost) / (1 + cost) * (1 - 1e-6)
    # Minimum purchases (an instruction's buy): ``b_lb`` is zero without them.
    min_buys = bool(bought_by) and np.count_nonzero(b_lb > 0) > 0
    if plan.direct_index and not effects.liquidate:
        beyond = _beyond_max_names(book, plan, b_lb) & (x_ub > 0) & ~wash_frozen
        if budget_applies:
            must_go |= beyond & costless
        elif _fits_turnover(book, p.trading.max_turnover, forced | beyond):
            forced |= beyond
    forced_gain = 0.0
    if np.count_nonzero(forced):  # (a screen's, a liquidation's or an instruction's sales)
        x_lb[forced] = x_ub[forced]
        forced_gain = float(book.lot_gain[forced].sum())
    if np.count_nonzero(must_go) and _fits_turnover(book, p.trading.max_turnover, forced | must_go):
        # After the forced gain is taken: an instruction's gain stretches the budget to its own
        # gain alone, and these sales, which free budget, leave it to what else is sold.
        must_go &= ~forced
        forced |= must_go
        x_lb[must_go] = x_ub[must_go]

    # What may be bought before harvesting and the one-way rule have their say (see
    # ``reopen_unharvested``).
    b_open = b_ub.copy()
    di_member = plan.direct_indexed()  # (read by the harvest and by the tax weights)
    # Harvesting (taxable accounts only).
    harvest = None
    if taxable and not effects.liquidate:
        # The same thresholds pick the lots to harvest and the opportunities to report.
        losing = loss_candidates(book, p.harvest or HarvestParams(), loss)
        # An instruction's purchase is the advisor's command: a loss in its group is not harvested
        # in the same run (the purchase would wash it).
        instructed = np.isin(group, group[b_lb > 0]) if min_buys else np.zeros(n, dtype=bool)
        if p.harvest is not None:
            harvest = _plan_harvest(
                request, book, plan, x_ub, b_ub, b_lb, instructed, no_buy, loss_sale_recently, group, forced, losing,
                lambda i: _unsellable_reason(i, book, hold, no_sell, eq, window, p.wash_sale.allow, request),
                min_buys=min_buys,
                any_unbuyable=any_unbuyable,
                di_member=di_member,
            )
        elif p.transition is None:
            harvest = _plan_gain_offset(book, plan, x_ub, forced, instructed)
        else:
            harvest = HarvestPlan(lots=np.zeros(nl, dtype=bool))
        x_lb[harvest.lots] = x_ub[harvest.lots]
        forced |= harvest.lots
        harvestable = harvest.harvestable
        b_ub[lot_sec[harvestable]] = 0.0
        b_ub[list(harvest.substitutes.values())] = UNBOUNDED_BUY
        _harvest_alerts(book, p.harvest, harvest, losing, alerts)
    else:
        harvest = HarvestPlan(lots=np.zeros(nl, dtype=bool))
        harvestable = harvest.harvestable

    if blocked_buys is not None:
        # After harvesting: a name harvested here has handed its target to its substitute, which
        # may be bought, so only what is still to be bought of a blocked name waits (and keeps cash).
        _hold_blocked_shortfall(book, plan, blocked_buys,
                                lambda: stand_ins(book, plan, request.model, p, harvest.substitutes))
    _one_direction_per_group(book, plan, loss, x_lb, x_ub, b_ub, b_lb, group, harvest.candidates,
                             p.trading.trading_cost_bps / 1e4,
                             singletons=not p.wash_sale.equivalent_groups, min_buys=min_buys)

    # Drift bands: inside every band nothing trades unless something requires it.
    frozen = np.zeros(n, dtype=bool)
    inside = False
    breached: list[str] = []
    if p.drift is not None and not effects.bring_to_model and not effects.liquidate:
        units = drift_units(book.symbols, plan, stand_ins(book, plan, request.model, p, harvest.substitutes))
        breached = out_of_band(units, w0, book.cash_weight, p.drift)
        # Cash below its floor is outside its band whatever the band's width: the floor is hard.
        if book.cash_weight < plan.cash_floor - 1e-12 and CASH_KEY not in breached:
            breached.append(CASH_KEY)
        if not breached:
            held = book.quantity > 0
            required = (
                (np.bincount(lot_sec, weights=forced.astype(float), minlength=n) > 0)
                | (s_lb > 0)
                | (b_lb > 0)
                | (held & (plan.excluded | plan.removed))
                | (held & (plan.target <= 0) & (plan.reference <= 0) & ~plan.legacy)
            )
            required[list(harvest.substitutes.values())] = True
            if r.hold or r.do_not_buy or r.do_not_sell:
                required |= held & plan.restricted & (np.abs(w0 - plan.target) > 1e-9)
            sleeves = {plan.sleeve_of[i] for i in np.flatnonzero(required)} - {None}
            in_sleeve = np.array([s in sleeves for s in plan.sleeve_of], dtype=bool)
            free = required | in_sleeve
            # Screened-out or removed holdings outside a freed sleeve are sold into cash; when that
            # pushes cash beyond its own band the proceeds must be reinvested, so nothing is frozen.
            proceeds = float(w0[held & (plan.excluded | plan.removed) & ~in_sleeve].sum())
            cash_width = max(p.drift.absolute_band, p.drift.relative_band * units.target[-1])
            if book.cash_weight + proceeds - units.target[-1] > cash_width + 1e-12:
                free = np.ones(n, dtype=bool)
            frozen = ~free
            inside = not free.any()
            x_ub[frozen[lot_sec]] = 0.0
            x_lb[frozen[lot_sec]] = 0.0
            b_ub[frozen] = 0.0

    # Tax budget (net realised gain), unless an instruction overrides it.
    budget = math.inf
    limit = None
    if budget_applies:
        caps = []
        if p.transition.max_net_gain_per_run is not None:
            caps.append(p.transition.max_net_gain_per_run)
        if p.transition.max_net_gain_per_year is not None:
            ytd = acct.realised_short_term_ytd + acct.realised_long_term_ytd
            caps.append(p.transition.max_net_gain_per_year - ytd)
        if caps:
            limit = max(0.0, min(caps))
            # An instruction's sale happens whatever it realises, inside the one limit: what else
            # is sold gets what it leaves; an instruction beyond the limit stretches it only to its
            # own gain (adding it on top let the rest realise the whole limit again).
            budget = max(limit, forced_gain) / V

    frac = np.divide(book.lot_gain, book.lot_value, out=np.zeros(nl), where=book.lot_value > 0)
    if any_disallowed and np.count_nonzero(disallowed):  # (a factor of 1.0 everywhere otherwise)
        frac = frac * np.where(loss, 1.0 - disallowed, 1.0)
    if taxable:
        rate = np.where(book.lot_long, acct.long_term_rate, acct.short_term_rate)
        tax = rate * frac
        # A loss earns no credit unless harvesting it is the point: a linear credit alone sells a
        # sliver of every losing lot, each opening a 30-day window that blocks buying it back.
        tax[loss & ~harvestable] = 0.0
    else:
        tax = np.zeros(nl)
        frac = np.zeros(nl)
    if taxable and plan.direct_index:
        # Direct-indexed names: tax weighs against tracking error at the client's rate.
        weighted = di_member[lot_sec]
        if p.harvest is not None:
            # Swap back while it is cheap: a short-term lot whose gain is still within the harvest
            # threshold (a substitute bought after a harvest, say) is sold back as tracking asks,
            # taxes only breaking ties - held on, its gain and the tracking error would only grow.
            weighted &= ~(~book.lot_long & (frac > 0) & (frac <= p.harvest.min_loss_pct))
        # A realised gain buys tracking for as long as the position would otherwise stay off its
        # target (a year, say); a harvest costs tracking only until the name may be bought back
        # (the 30-day window, a month): the same rate weighs them over those horizons.
        cost = p.trading.tracking_error_cost
        tax[weighted & (frac > 0)] *= tax_weight(cost)
        tax[weighted & (frac < 0)] *= tax_weight(cost * HARVEST_HORIZON_YEARS)
    return Limits(
        x_lb=np.minimum(x_lb, x_ub),
        x_ub=x_ub,
        tax=tax,
        gain=frac,
        run_tax=RunTax.of(acct) if taxable else None,
        disallowed=disallowed,
        forced=forced & (x_ub > 0),
        b_lb=b_lb,
        b_ub=b_ub,
        s_lb=s_lb,
        budget=budget,
        budget_limit=limit if budget < math.inf else None,
        max_turnover=p.trading.max_turnover if p.trading.max_turnover is not None else math.inf,
        cost_rate=p.trading.trading_cost_bps / 1e4,
        cash_floor=plan.cash_floor,
        cash_target=plan.cash_target + plan.cash_reserve,
        harvest=harvest,
        group=group,
        window_loss_groups=window_loss_groups,
        replacement_shares=np.bincount(
            np.array([key_id[k] for k in window.purchases if k in key_id], dtype=np.int64),
            weights=np.array([window.purchases[k] for k in window.purchases if k in key_id], dtype=float),
            minlength=len(key_id),
        ) if taxable and p.wash_sale.allow else np.zeros(len(key_id)),
        replacement_purchases=_replacement_purchases(book, window, key_id, in_window)
        if taxable and p.wash_sale.allow and window.bought else {},
        instruction_secs=instruction_secs,
        frozen=frozen,
        inside_band=inside,
        breached=breached,
        harvest_min_loss=p.harvest.min_loss_value if p.harvest is not None else 0.0,
        b_open=np.where(frozen, 0.0, b_open) if p.drift is not None else b_open,  # (frozen: drift bands)
        direct_indexed=di_member,
        alerts=alerts,
        warnings=warnings,
    )


def _replacement_purchases(
    book: Book, window: WindowActivity, key_id: dict[str, int], in_window: list[int]
) -> dict[int, list[tuple[float, tuple[int, ...]]]]:
    """``Limits.replacement_purchases``: the window's purchases per group id, earliest first as the
    ledger orders them (Treas. Reg. §1.1091-1(b)-(d)); their own lots as the book's indices."""
    index = {book.lot_ids[i]: i for i in in_window}
    out: dict[int, list[tuple[tuple, float, tuple[int, ...]]]] = {}
    for n, purchase in enumerate(window.bought):
        g = key_id.get(purchase.group)
        if g is not None:
            lots = tuple(index[i] for i in purchase.lots if i in index)
            out.setdefault(g, []).append(((purchase.order, n), purchase.shares, lots))
    return {g: [(shares, lots) for _, shares, lots in sorted(rows)] for g, rows in out.items()}


def _fits_turnover(book: Book, max_turnover: float | None, sold: np.ndarray) -> bool:
    """Whether selling the lots ``sold`` and reinvesting the proceeds keeps within the turnover cap:
    the sales ``max_names`` asks for, and a screen's at no gain under a budget, are forced only
    then (the cap may keep a holding, and forcing past it would make the run infeasible)."""
    return max_turnover is None or float(book.lot_value[sold].sum()) <= max_turnover * book.total_value


def _beyond_max_names(book: Book, plan: TargetPlan, b_lb: np.ndarray) -> np.ndarray:
    """Lots of the held constituents a direct index's selection leaves out, where the sleeve would
    otherwise hold more than ``max_names`` names (the selected ones and those held): the sleeve
    holds at most that many, so the rest are sold. Screened-out names are the screen's to sell; a
    name an instruction buys is the advisor's to keep. Restrictions and the wash-sale window are
    the caller's to apply (a name they keep is counted in the ``max_names_exceeded`` alert)."""
    out = np.zeros(book.n, dtype=bool)
    for di in plan.direct_index:
        cap = di.params.max_names
        if cap is None:
            continue
        m = di.members
        held = (book.quantity[m] > 0) & ~plan.excluded[m]
        if np.count_nonzero(held | di.selected) <= cap:
            continue
        out[m[held & ~di.selected & (b_lb[m] <= 0)]] = True
    return out[book.lot_sec] & (book.lot_qty > 0)


def _plan_harvest(
    request: RebalanceRequest,
    book: Book,
    plan: TargetPlan,
    x_ub: np.ndarray,
    b_ub: np.ndarray,
    b_lb: np.ndarray,
    instructed: np.ndarray,
    no_buy: np.ndarray,
    loss_sale_recently: np.ndarray,
    group: np.ndarray,
    forced: np.ndarray,
    losing: np.ndarray,
    unsellable_reason: Callable[[int], str],
    min_buys: bool = True,
    any_unbuyable: bool = True,
    di_member: np.ndarray | None = None,
) -> HarvestPlan:
    """The harvest (``min_buys``: whether ``b_lb`` has a purchase; ``any_unbuyable``: whether a
    screen, a restriction or the window can make a substitute unbuyable - the masks are not read
    when not; ``di_member``: ``plan.direct_indexed()`` when the caller has it)."""
    params = request.parameters.harvest
    out = HarvestPlan(
        lots=np.zeros(len(book.lots), dtype=bool), candidates=np.zeros(len(book.lots), dtype=bool)
    )
    if params is None:
        return out
    cand = losing & ~forced if np.count_nonzero(forced) else losing  # (only read)
    di_members = (plan.direct_indexed() if di_member is None else di_member).tolist()
    allow = request.parameters.wash_sale.allow
    lot_sec = book.lot_sec
    sellable = cand & (x_ub > 0)
    # Per security: whether it has a sellable candidate, and whether its candidates go to the
    # optimiser (direct index) or are harvested; the lot masks follow once, after the loop.
    sellable_lots = np.bincount(lot_sec, weights=sellable, minlength=book.n)
    can_sell = (sellable_lots > 0).tolist()
    sellable_value = lot_sums(lot_sec, book.lot_value, sellable, book.n, sellable_lots).tolist()
    # Python values in the loop (the same arithmetic as numpy scalars, without their overhead);
    # the targets it moves are written back after it.
    unbuyable = (
        (plan.excluded | no_buy | (loss_sale_recently & (not allow))).tolist() if any_unbuyable else [False] * book.n
    )
    group_of, weights = group.tolist(), book.weights.tolist()
    target, reference = plan.target.tolist(), plan.reference.tolist()
    bought_by = {group_of[j]: book.symbols[j] for j in (b_lb > 0).nonzero()[0].tolist()} if min_buys else {}
    optional = np.zeros(book.n, dtype=bool)
    harvested = np.zeros(book.n, dtype=bool)
    any_optional = False
    for i in sorted(set(lot_sec[cand].tolist())):
        symbol = book.symbols[i]
        if not can_sell[i]:
            out.blocked[symbol] = unsellable_reason(i)
            continue
        if instructed[i]:
            out.blocked[symbol] = f"an instruction buys {bought_by[group_of[i]]} (the harvest would be a wash sale)"
            continue
        if di_members[i]:
            # Inside a direct index the optimiser decides how much to harvest and re-weights the
            # sleeve's other names (their risk model says which are close).
            optional[i] = any_optional = True
            out.blocked[symbol] = (
                "the tax it saves does not outweigh the tracking error it adds (trading.tracking_error_cost)"
            )
            continue
        sub = None
        if target[i] > 0:
            name = params.substitutes.get(symbol)
            j = book.index.get(name) if name else None
            if j is None:
                out.blocked[symbol] = "no substitute is configured"
                continue
            if unbuyable[j] or group_of[j] == group_of[i]:
                out.blocked[symbol] = f"its substitute {name} may not be bought"
                continue
            sub = j
        harvested[i] = True
        if sub is not None:
            # What remains of the position may keep its target; the substitute takes the rest.
            remaining = max(weights[i] - sellable_value[i] / book.total_value, 0.0)
            moved = target[i] - min(target[i], remaining)
            tracked = reference[i] - min(reference[i], remaining)  # never below 0 (a tracked short)
            target[i] -= moved
            reference[i] -= tracked
            target[sub] += moved
            reference[sub] += tracked
            plan.buyable[sub] = True
            if plan.sleeve_of[sub] is None:
                plan.sleeve_of[sub] = plan.sleeve_of[i]
            out.substitutes[i] = sub
    if out.substitutes:
        plan.target[:] = target
        plan.reference[:] = reference
    if any_optional:  # (only direct-indexed names are the optimiser's to harvest)
        out.candidates |= sellable & optional[lot_sec]
    out.lots |= sellable & harvested[lot_sec]
    return out


# How a harvest alert names a purchase of today by another account (``household._harvests_blocked``
# reads it: such a harvest goes ahead once the household buys the name nowhere).
PLANNED_PURCHASE = "a purchase planned with this proposal, or made today"


def _unsellable_reason(
    i: int, book: Book, hold: np.ndarray, no_sell: np.ndarray, eq: Equivalence, window: WindowActivity, allow: bool,
    request=None,
) -> str:
    """Why security ``i``'s losing lots may not be sold this run, for the harvest alert. A purchase of
    today by another account that tells no lot is a trade planned beside this one (a household
    proposal's, an open proposal's) or made today: it is named as such, not as a day's purchase."""
    if hold[i]:
        return "restrictions.hold keeps it"
    if no_sell[i]:
        return "restrictions.do_not_sell keeps it"
    symbol = book.symbols[i]
    bought = window.last_purchase.get(eq.group(symbol))
    if bought is not None and not allow:
        what = "it" if len(eq.members(symbol)) == 1 else "it or a substantially identical security"
        today = [
            w for w in window.bought
            if w.group == eq.group(symbol) and request is not None and w.order[0] == request.as_of.toordinal()
            and w.order[1] not in ("", request.account.id) and not w.lots
        ]
        if today and bought == request.as_of:
            where = ", ".join(sorted({w.order[1] for w in today}))
            return (
                f"{what} is bought in {where} today ({PLANNED_PURCHASE}), and a "
                "loss sale within 30 days of a purchase is a wash sale: harvestable from "
                f"{harvestable_on(bought).isoformat()}"
            )
        return (
            f"{what} was bought on {bought.isoformat()} and a loss sale within 30 days of a purchase is a wash sale: "
            f"harvestable from {harvestable_on(bought).isoformat()}"
        )
    return "it may not be sold"


def _plan_gain_offset(
    book: Book, plan: TargetPlan, x_ub: np.ndarray, forced: np.ndarray, instructed: np.ndarray
) -> HarvestPlan:
    """With harvesting off, losses still offset the gains this run must realise - holdings a screen
    or an instruction sells, an asset class removed from the model: the losing lots of
    direct-indexed names (the default harvest thresholds), deepest first until their losses cover
    those gains, are the optimiser's to harvest as they would be with harvesting on (at the same
    tax-vs-tracking rate).  Nothing beyond that gain: year-round harvesting is the client's choice."""
    nl = len(book.lots)
    out = HarvestPlan(lots=np.zeros(nl, dtype=bool), candidates=np.zeros(nl, dtype=bool))
    lot_sec = book.lot_sec
    must = (forced | plan.removed[lot_sec]) & (book.lot_qty > 0) & (x_ub > 0)
    gain = float(book.lot_gain[must].sum())
    if gain <= DUST_LOSS or not plan.direct_index:
        return out
    cand = loss_candidates(book, HarvestParams()) & ~must & (x_ub > 0) & (plan.direct_indexed() & ~instructed)[lot_sec]
    out.candidates = offsetting_losses(book, cand, gain)
    return out


def _harvest_alerts(
    book: Book, params: HarvestParams | None, harvest: HarvestPlan, losing: np.ndarray, alerts: list[Alert]
) -> None:
    open_lots = losing & ~harvest.lots
    harvest.reported = open_lots
    if not np.count_nonzero(open_lots):
        return
    for symbol, amount in opportunity_by_symbol(book, open_lots).items():
        if params is None:
            why = "harvesting is switched off"
        else:
            why = harvest.blocked.get(symbol, "it is not harvestable now")
        harvest.reported_why[symbol] = why
        alerts.append(harvest_alert(symbol, amount, why))


def harvest_alert(symbol: str, amount: float, why: str) -> Alert:
    """A harvest opportunity left open: ``amount`` of unrealised loss in ``symbol``, and why."""
    return Alert("harvest_opportunity", f"{symbol} has {dollars(amount)} of harvestable losses, not harvested: {why}",
                 symbol=symbol, amount=cents(amount))


def _one_direction_per_group(
    book: Book,
    plan: TargetPlan,
    loss: np.ndarray,
    x_lb: np.ndarray,
    x_ub: np.ndarray,
    b_ub: np.ndarray,
    b_lb: np.ndarray,
    group: np.ndarray,
    candidates: np.ndarray,
    cost_rate: float = 0.0,
    singletons: bool = False,
    min_buys: bool = True,
) -> None:
    """No security is both sold at a loss and bought; per group of substantially identical
    securities, a loss sale and a purchase never meet.

    A security at or below its target (within float noise) is bought, never sold: its lots are
    frozen - selling an underweight position to buy it back later only costs tax.  One above it
    may be sold; it may be bought too when it has no loss lot that could be sold (buying more of
    an overweight name that is the closest substitute of a harvested one is how a direct index
    keeps tracking), otherwise not.  A security with harvestable or forced sales is not bought.
    Across a group, a forced loss sale (harvest, instruction) blocks buying the other members;
    an optional one is frozen when another member is under its target (it needs buying), and
    otherwise the members at their target are not bought.
    """
    n = book.n
    lot_sec = book.lot_sec
    w0 = book.weights
    # (``bincount`` reads boolean weights as 0.0 and 1.0, as ``astype(float)`` makes them.)
    optional = x_lb <= 0
    has_forced = np.bincount(lot_sec, weights=~optional, minlength=n) > 0
    # Securities with forced sales or harvest candidates (only direct-indexed names have those).
    selling = has_forced
    if np.count_nonzero(candidates):
        selling = selling | (np.bincount(lot_sec, weights=candidates, minlength=n) > 0)
    optional_loss = loss & (x_ub > 0) & optional
    has_loss = np.bincount(lot_sec, weights=optional_loss, minlength=n) > 0
    # Weights are compared with a tolerance: a name at target + 1e-17 is at target.
    under = w0 <= plan.target + TARGET_TOLERANCE
    if min_buys:  # (``b_lb`` is zero otherwise)
        under |= b_lb > 0
    open_to_buy = (b_ub > 0) & ~selling
    buy_side = open_to_buy & under
    two_way = open_to_buy & ~(under | has_loss)
    b_ub[~(buy_side | two_way)] = 0.0
    x_ub[buy_side[lot_sec] & optional] = 0.0
    # Across groups: only groups of more than one security (substantially identical ones) can
    # meet a loss sale of one member with a purchase of another (none without equivalent groups:
    # ``group`` is then each security's own index).
    if singletons:
        return
    g_size = np.bincount(group)
    if not (g_size > 1).any():
        return
    size = len(g_size)
    forced_loss = loss & (x_lb > 0)
    has_forced_loss = np.bincount(lot_sec, weights=forced_loss.astype(float), minlength=n) > 0
    sellable_loss = loss & (x_ub > 0)
    sells_loss = np.bincount(lot_sec, weights=sellable_loss.astype(float), minlength=n) > 0
    g_sells = np.bincount(group, weights=sells_loss.astype(float), minlength=size) > 0
    g_forced = np.bincount(group, weights=has_forced_loss.astype(float), minlength=size) > 0
    for g in (g_sells & (g_size > 1)).nonzero()[0]:
        members = np.flatnonzero(group == g)
        buyers = members[b_ub[members] > 0]
        if not len(buyers):
            continue
        if g_forced[g]:
            instructed = buyers[b_lb[buyers] > 0]
            if len(instructed):
                # Dropping the purchase would leave the advisor's instruction silently undone.
                sold = members[has_forced_loss[members]]
                raise InfeasibleParameters(
                    f"instruction buys {book.symbols[instructed[0]]}, substantially identical to "
                    f"{book.symbols[sold[0]]}, which this run sells at a loss (a wash sale)",
                    ["instructions", "wash_sale.equivalent_groups"],
                )
            b_ub[buyers] = 0.0
            continue
        # An optional loss sale gives way to a purchase the group needs (a member under its
        # target); members only at their target need none, so they are not bought instead. A member
        # short by less than the trading cost of its target is at it: a household's placement
        # nets costs out of the holdings it gives an account, and cents of that are no need.
        short = buyers[(w0[buyers] < plan.target[buyers] * (1 - cost_rate) - TARGET_TOLERANCE) | (b_lb[buyers] > 0)]
        if len(short):
            sellers = members[sells_loss[members]]
            x_ub[np.isin(lot_sec, sellers) & loss & (x_lb <= 0)] = 0.0
        else:
            b_ub[buyers] = 0.0


def _hold_blocked_shortfall(book: Book, plan: TargetPlan, blocked: np.ndarray, stand_ins_of) -> None:
    """A holding that may not be bought for 30 days (a loss sale in the window) keeps its
    shortfall where the money is: first in what stands in for it (``drift.stand_ins``: its harvest
    substitute, or a member of its equivalence group, bought in its place - tracked at its weight up
    to the shortfall, so the substitute a harvest bought is not sold into cash while the name
    cannot be bought back), then cash already there is reserved for it (``plan.cash_reserve``, the
    optimiser's cash target on top of the client's; ``RebalanceResult.blocked_buys`` says why it
    waits), and for the rest the optimiser tracks it
    at its current weight and the rest of its sleeve (or of the model) at proportionally more -
    so nothing is sold to fund a purchase that cannot happen (drift would not move, tax would be
    paid) and nothing is bought in its place.  Direct-indexed names are left to the optimiser,
    which re-weights their sleeve through the risk model. ``stand_ins_of``: builds the stand-ins
    (stand-in -> model security), asked only when a blocked name is short.
    """
    if not blocked.any():
        return
    di = plan.direct_indexed()
    w0 = book.weights
    spare = max(book.cash_weight - plan.cash_target - plan.cash_reserve, 0.0)
    short = (blocked & ~di & (plan.reference > w0 + TARGET_TOLERANCE)).nonzero()[0]
    held_for: dict[int, list[int]] = {}
    if len(short):
        for j, i in stand_ins_of().items():
            if w0[j] > plan.reference[j] and not blocked[j] and not di[j]:
                held_for.setdefault(i, []).append(j)
    for i in short:
        gap = plan.reference[i] - w0[i]
        for j in held_for.get(i, ()):
            cover = min(gap, w0[j] - plan.reference[j])
            plan.reference[j] += cover
            gap -= cover
        reserve = min(gap, spare)
        spare -= reserve
        plan.cash_reserve += reserve
        rest = gap - reserve
        plan.reference[i] = w0[i]
        if rest <= TARGET_TOLERANCE:
            continue
        same = np.array([s == plan.sleeve_of[i] for s in plan.sleeve_of])
        others = np.flatnonzero((plan.reference > 0) & ~di & ~blocked & same)
        if not len(others):
            others = np.flatnonzero((plan.reference > 0) & ~di & ~blocked)
        base = plan.reference[others].sum()
        if base > 0:
            plan.reference[others] *= (base + rest) / base


def reopen_unharvested(book: Book, limits: Limits, sold: np.ndarray) -> np.ndarray:
    """Names with harvest candidates the optimiser chose not to harvest (``sold``: fraction of
    account value sold per lot) go back to the buy side: their loss lots are frozen and they may
    be bought again, as the closest substitute of a name that was harvested, say.

    Updates ``limits`` in place and returns the reopened securities (empty when none).  Solving
    again cannot do worse: the first answer (nothing harvested there) is still allowed.
    """
    cand = limits.harvest.candidates
    if not np.count_nonzero(cand) or limits.b_open is None:
        return np.zeros(0, dtype=np.int64)
    n, lot_sec = book.n, book.lot_sec
    loss_value = np.bincount(
        lot_sec,
        weights=np.where(cand, -book.lot_gain / np.maximum(book.lot_value, 1e-300) * sold, 0.0),
        minlength=n,
    )
    has_cand = np.bincount(lot_sec, weights=cand.astype(float), minlength=n) > 0
    singleton = np.bincount(limits.group, minlength=int(limits.group.max()) + 1)[limits.group] == 1
    forced = np.bincount(lot_sec, weights=limits.forced.astype(float), minlength=n) > 0
    reopen = np.flatnonzero(
        has_cand
        & (loss_value * book.total_value < max(limits.harvest_min_loss, DUST_LOSS))
        & (limits.b_open > 0)
        & singleton
        & ~forced
    )
    if not len(reopen):
        return reopen
    reopened = np.zeros(n, dtype=bool)
    reopened[reopen] = True
    lots = reopened[lot_sec]
    loss = book.lot_gain < 0
    limits.x_ub[lots & loss] = 0.0
    limits.x_lb[lots & loss] = 0.0
    limits.b_ub[reopen] = limits.b_open[reopen]
    limits.harvest.candidates = cand & ~lots
    return reopen


def _said(ins: Instruction) -> str:
    """An instruction as the advisor gave it: "sell VTI, buy BND"."""
    return f'"sell {ins.sell}, buy {ins.buy}"' if ins.buy else f'"sell {ins.sell}"'
