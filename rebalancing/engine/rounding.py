"""From the optimiser's fractions to tradable quantities.

Whole shares (when asked, or when the security does not trade fractions), minimum trade size,
clean-up of solver dust, lot relief by the chosen method, then repairs that rounding may need:
keep cash at or above its floor, turnover under its cap and net gains within the tax budget.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .limits import Limits
from .lots import grouped_order, least_tax_choice, lot_priority, relieve_grouped, reversed_in_groups
from .optimizer import Solution
from .parameters import TradingParams
from .positions import Book
from .targets import DirectIndexSleeve, TargetPlan

__all__ = ["Fill", "round_trades", "DUST_VALUE", "FRACTION_DECIMALS"]

DUST_VALUE = 0.01
# A quantity below half the last decimal shown (6) is no trade.
SPECK = 5e-7
STUB_WEIGHT = 0.002
FRACTION_DECIMALS = 6
_EPS = 1e-9
# Cash below the floor by less than this (account currency) is rounding, not a breach.
_CASH_TOL = 1e-6


@dataclass(slots=True, eq=False)
class Fill:
    """Shares sold from each lot and shares bought of each security; repairs made, as text."""

    lot_sold: np.ndarray
    bought: np.ndarray
    notes: list[str]
    gain_trimmed: float = 0.0
    # Cash still missing below the floor after every repair (the caller reports infeasibility).
    cash_short: float = 0.0
    # The last ``cash_after``'s sums: shares sold per security, value sold, value bought. As
    # ``round_trades`` returns the fill they are its own (None when it changed after them): the
    # report reads them instead of summing again.
    sums: tuple[np.ndarray, float, float] | None = None

    def sold(self, book: Book) -> np.ndarray:
        """Shares sold per security."""
        return np.bincount(book.lot_sec, weights=self.lot_sold, minlength=book.n)

    def cash_after(self, book: Book, cost_rate: float) -> float:
        """Cash after the trades and their costs."""
        sold = self.sold(book)
        sells = float(sold @ book.price)
        buys = float(self.bought @ book.price)
        self.sums = (sold, sells, buys)
        return book.cash + sells - buys - cost_rate * (sells + buys)


def _round_near(q: np.ndarray, whole: np.ndarray, all_whole: bool = False) -> np.ndarray:
    if all_whole:  # (``whole`` true everywhere: the where below picks these numbers)
        return q.round()
    return np.where(whole, q.round(), q.round(FRACTION_DECIMALS))


def _lot_down(take: float, held: float) -> float:
    """The largest sale of a whole-share lot of ``held`` shares not above ``take``: all of it, or
    whole shares keeping at least one (its fraction could never be sold on its own)."""
    if take >= held - _EPS:
        return held
    return float(max(min(math.floor(take + _EPS), math.floor(held - 1 + _EPS)), 0))


def _lot_up(take: float, held: float) -> float:
    """The smallest sale of a whole-share lot of ``held`` shares not below ``take`` (see ``_lot_down``)."""
    if take <= _EPS:
        return 0.0
    shares = math.ceil(take - _EPS)
    return held if held - shares < 1 - _EPS else float(shares)


def _closes_unheld(book: Book, plan: TargetPlan, sold: np.ndarray) -> np.ndarray:
    """Per security: whether ``sold`` closes the whole position (every lot, none frozen) of a
    name the model no longer holds - the one sale the minimum trade does not drop."""
    q = book.quantity
    return (plan.target <= 0) & (sold > 0) & (sold >= q - np.maximum(1e-6 * q, 1e-9))


def round_trades(
    book: Book, plan: TargetPlan, limits: Limits, solution: Solution, trading: TradingParams
) -> Fill:
    """Round the optimiser's solution into a tradable, repaired proposal."""
    V = book.total_value
    price = book.price
    lot_sec = book.lot_sec
    n = book.n
    notes: list[str] = []
    # Whole shares asked for: every security trades whole shares (the masks by ``whole`` below are
    # then skipped, ``all_whole``: the same numbers).
    all_whole = bool(trading.whole_shares)
    whole = np.ones(n, dtype=bool) if all_whole else ~book.fractional

    # Dust: solver noise below a cent, and lots sold to within a hair of their size.
    x = np.minimum(solution.x, limits.x_ub)
    x = np.where(x * V < DUST_VALUE / 2, 0.0, x)
    x = np.where(
        limits.x_ub - x < 1e-7 * np.maximum(limits.x_ub, 1e-12) + DUST_VALUE / (2 * V), limits.x_ub, x
    )
    x = np.maximum(x, limits.x_lb)
    lot_price = price[lot_sec]  # (each lot's share price, read again by the relief and the repairs)
    opt_lot = x * V / lot_price
    opt_lot = np.minimum(opt_lot, book.lot_qty)
    # Solver noise above a bound (0.0003 shares of a wash-blocked name) is not a buy.
    buy = np.minimum(np.maximum(solution.b, 0.0), limits.b_ub) * V / price
    buy = np.where(buy * price < DUST_VALUE / 2, 0.0, buy)
    sell = np.bincount(lot_sec, weights=opt_lot, minlength=n)
    # A harvest worth less than the smallest loss worth harvesting is not made: it would block
    # buying the name back for 30 days for a credit of a few dollars.
    cand = limits.harvest.candidates
    if np.count_nonzero(cand):
        loss_ps = np.divide(-book.lot_gain, book.lot_qty, out=np.zeros(len(lot_sec)), where=book.lot_qty > 0)
        loss = np.bincount(
            lot_sec, weights=np.where(cand, opt_lot * np.maximum(loss_ps, 0.0), 0.0), minlength=n
        )
        has_cand = np.bincount(lot_sec, weights=cand.astype(float), minlength=n) > 0
        small = has_cand & (loss < limits.harvest_min_loss)
        opt_lot = np.where(small[lot_sec] & ~limits.forced, 0.0, opt_lot)
        sell = np.where(small, np.bincount(lot_sec, weights=opt_lot, minlength=n), sell)

    # Never both directions in one security: net them (the optimiser rarely leaves both).
    both = (sell > 0) & (buy > 0)
    if np.count_nonzero(both):
        net = buy - sell
        gross = sell
        buy = np.where(both, np.maximum(net, 0.0), buy)
        sell = np.where(both, np.maximum(-net, 0.0), sell)
        # The lots' sales follow the netting: what the optimiser sold of a security it also bought
        # is no sale it wanted, and the cash repair reads the lots' sales as wanted ones (it sold
        # them to pay for a purchase rounded up, instead of trimming a purchase).
        scale = np.divide(sell, gross, out=np.ones(n), where=both)
        opt_lot = opt_lot * scale[lot_sec]

    _apply_min_position(book, plan, buy)

    # Forced shares (harvested lots, instructions) are sold whatever the rounding.
    forced_lot = np.where(limits.forced, book.lot_qty, 0.0)
    forced = np.bincount(lot_sec, weights=forced_lot, minlength=n)
    if np.count_nonzero(limits.s_lb):  # (without minimum sales the line is forced = max(forced, 0): forced)
        forced = np.maximum(forced, np.minimum(book.quantity, limits.s_lb * V / price))
    # Only lots the limits let go can be sold (frozen lots: wash sales, restrictions).
    free_lot = limits.x_ub > 0  # (read again by the relief)
    wanted_value = sell * price  # (the optimiser's sales, before rounding)
    sellable = np.bincount(lot_sec, weights=np.where(free_lot, book.lot_qty, 0.0), minlength=n)
    closing = sell >= sellable - np.maximum(1e-6 * sellable, 1e-9)
    sell = np.where(closing & (sell > 0), sellable, _round_near(sell, whole, all_whole))
    sell = np.minimum(np.maximum(np.maximum(sell, forced), 0.0), sellable)
    # A sale that leaves less than a whole share / a cent closes the position instead, and so
    # does one that leaves a stub of a position the model no longer wants - but not a name the
    # optimiser keeps to track a benchmark (a direct index's constituent beyond max_names).
    leftover = sellable - sell
    leftover_value = leftover * price
    unwanted = (plan.target <= 0) & (plan.reference <= 0)
    stub = unwanted & (leftover_value < max(trading.min_trade_value, STUB_WEIGHT * V))
    few_shares = leftover < 1 - _EPS
    tiny = (leftover_value < DUST_VALUE) | (few_shares if all_whole else whole & few_shares) | stub
    sell = np.where((sell > 0) & tiny, sellable, sell)
    # Nearest, not down: the solver's 9.99999 shares mean 10; the cash repair below trims if needed.
    buy = _round_near(buy, whole, all_whole)
    if np.count_nonzero(limits.b_lb):  # (without minimum buys the lines leave ``buy`` as it is)
        min_buy = np.ceil(limits.b_lb * V / price * (1 - 1e-6) - _EPS)
        buy = np.where(limits.b_lb > 0, np.maximum(buy, np.where(whole, min_buy, 0.0)), buy)
    # Rounded down, a buy can end below the minimum position it passed before rounding.
    _apply_min_position(book, plan, buy, whole, limits.b_lb)

    # Minimum trade size, for discretionary trades only. A sale closing a position the model no
    # longer holds is wanted however small; one leaving shares behind (frozen ones too) is not.
    dropped = None
    if trading.min_trade_value > 0:
        small_sell = (
            (sell * price < trading.min_trade_value) & ~_closes_unheld(book, plan, sell) & (forced <= 0)
        )
        # The sales the minimum dropped: those it took back, and those the optimiser wanted for less
        # than it that rounding took to none (one worth more than it is rounding's to undo).
        dropped = small_sell & ((sell > 0) | (wanted_value > 0) & (wanted_value < trading.min_trade_value))
        sell = np.where(small_sell, 0.0, sell)
        buy = np.where(_below_min_trade(buy, price, trading.min_trade_value, limits.b_lb), 0.0, buy)
    buy = np.where(buy * price < DUST_VALUE, 0.0, buy)
    if limits.harvest_min_loss > 0 and plan.direct_index:
        _skip_small_blocking_trades(book, limits, sell, buy, forced, sellable)

    lot_sold = _relieve_lots(
        book, limits, trading.lot_selection, sell, opt_lot, forced_lot, lot_price, free_lot
    )
    _whole_lots(book, lot_sold, whole, all_whole)
    fill = Fill(lot_sold, buy, notes)
    _repair(book, plan, limits, fill, whole, trading, opt_lot, lot_price, dropped)
    # (``_repair`` ends on the fill's own sums: each of its changes is followed by ``cash_after``.)
    dropped_buy = _drop_below_min_position(book, plan, fill.bought, limits.b_lb)
    if trading.min_trade_value > 0:
        # A buy the cash or turnover repair trimmed below the minimum trade is not made either:
        # its value stays in cash (the minimum drops discretionary trades, whoever made them small).
        small = (fill.bought > 0) & _below_min_trade(fill.bought, price, trading.min_trade_value, limits.b_lb)
        if np.count_nonzero(small):
            fill.bought[small] = 0.0
            dropped_buy = True
    if dropped_buy:
        # Buying less only raises cash (and lowers turnover): what was short is recounted.
        fill.cash_short = max(0.0, limits.cash_floor * V - fill.cash_after(book, limits.cost_rate))
    if _no_specks(book, fill):
        fill.sums = None
    return fill


def _below_min_trade(buy: np.ndarray, price: np.ndarray, min_value: float, b_lb: np.ndarray) -> np.ndarray:
    """Per security: whether its buy is worth less than the minimum trade and discretionary (an
    instruction's purchase, ``b_lb``, is the advisor's and is made whatever its size)."""
    return (buy * price < min_value) & (b_lb <= 0)


def _skip_small_blocking_trades(
    book: Book, limits: Limits, sell: np.ndarray, buy: np.ndarray, forced: np.ndarray, sellable: np.ndarray
) -> None:
    """With harvesting on, small tracking trades in direct-indexed names that would block a
    harvest or a buy-back for 30 days are not made (in place).

    Buying a name that holds a losing lot makes selling that lot at a loss a wash sale for 30
    days, and selling a losing lot blocks buying the name back for 30 days.  A trade smaller than
    the smallest loss worth harvesting (``harvest.min_loss_value``) barely moves tracking error;
    it is not worth that.  Harvests, forced trades and closing sales are kept.
    """
    small = limits.harvest_min_loss
    price = book.price
    lot_sec = book.lot_sec
    losing = (book.lot_gain < 0) & (book.lot_qty > 0)
    has_loss = np.bincount(lot_sec, weights=losing.astype(float), minlength=book.n) > 0
    sells_loss = (
        np.bincount(lot_sec, weights=(losing & (limits.x_ub > 0)).astype(float), minlength=book.n) > 0
    )
    harvesting = np.bincount(lot_sec, weights=limits.harvest.candidates.astype(float), minlength=book.n) > 0
    di = limits.direct_indexed
    buy[di & has_loss & (buy * price < small) & (limits.b_lb <= 0)] = 0.0
    quiet = di & sells_loss & ~harvesting & (forced <= 0) & (sell * price < small) & (sell < sellable)
    sell[quiet] = 0.0


def _no_specks(book: Book, fill: Fill) -> bool:
    """No lot sale of less than half a millionth of a share (it would read "0 shares"): its
    shares join the security's largest lot sale that has room, or are not sold.  Whether any
    sale or buy changed."""
    lot_sec = book.lot_sec
    specks = ((fill.lot_sold > 0) & (fill.lot_sold < SPECK)).nonzero()[0]
    for j in specks:
        amount = fill.lot_sold[j]
        fill.lot_sold[j] = 0.0
        same = np.flatnonzero((lot_sec == lot_sec[j]) & (fill.lot_sold >= SPECK))
        room = book.lot_qty[same] - fill.lot_sold[same]
        if len(same) and room.max() >= amount:
            k = same[np.argmax(np.where(room >= amount, fill.lot_sold[same], -1.0))]
            fill.lot_sold[k] += amount
    small_buys = (fill.bought > 0) & (fill.bought < SPECK)
    if np.count_nonzero(small_buys):
        fill.bought[small_buys] = 0.0
        return True
    return len(specks) > 0


def _below_min_position(book: Book, di: DirectIndexSleeve, buy: np.ndarray, b_lb: np.ndarray | None) -> np.ndarray:
    """Per member of ``di``: whether it is bought and would end below the sleeve's minimum
    position (an instruction's purchase, ``b_lb``, is the advisor's and never is)."""
    m = di.members
    after = (book.value[m] + buy[m] * book.price[m]) / book.total_value
    small = (buy[m] > 0) & (after < di.params.min_position_weight - _EPS * 1e-3)
    if b_lb is not None:
        small &= b_lb[m] <= 0
    return small


def _apply_min_position(
    book: Book, plan: TargetPlan, buy: np.ndarray, whole: np.ndarray | None = None, b_lb: np.ndarray | None = None
) -> None:
    """Drop buys that would end below a direct index's minimum position; give their value to the
    sleeve's other buys pro rata (no re-solve: a semi-continuous bound is not convex). ``whole``:
    the buys are rounded already, and what each is given is rounded down as they are (so a buy
    kept ends no lower than it was)."""
    for di in plan.direct_index:
        if di.params.min_position_weight <= 0:
            continue
        m = di.members
        small = _below_min_position(book, di, buy, b_lb)
        if not small.any():
            continue
        freed = float((buy[m][small] * book.price[m][small]).sum())
        buy[m[small]] = 0.0
        keep = m[buy[m] > 0]
        if len(keep) and freed > 0:
            value = buy[keep] * book.price[keep]
            given = freed * value / value.sum() / book.price[keep]
            if whole is not None:
                scale = np.where(whole[keep], 1.0, 10.0**FRACTION_DECIMALS)
                given = np.floor(given * scale + _EPS) / scale
            buy[keep] += given


def _drop_below_min_position(book: Book, plan: TargetPlan, bought: np.ndarray, b_lb: np.ndarray) -> bool:
    """The last word on the minimum position (in place): a buy the repairs trimmed below it is not
    made; its value stays in cash, since buying more of another name could break the floor, the
    turnover cap or the minimum trade the repairs restored. Whether any buy was dropped."""
    dropped = False
    for di in plan.direct_index:
        if di.params.min_position_weight <= 0:
            continue
        small = _below_min_position(book, di, bought, b_lb)
        if small.any():
            bought[di.members[small]] = 0.0
            dropped = True
    return dropped


def _relieve_lots(
    book: Book,
    limits: Limits,
    method: str,
    sell: np.ndarray,
    opt_lot: np.ndarray,
    forced_lot: np.ndarray,
    lot_price: np.ndarray | None = None,
    free_lot: np.ndarray | None = None,
) -> np.ndarray:
    """Shares per lot for the per-security sales ``sell`` (vectorised over securities); ``lot_price``:
    ``book.price[book.lot_sec]`` and ``free_lot``: ``limits.x_ub > 0``, when the caller has them.

    Forced lots go first.  ``tax_optimal`` takes the lots that cost the year the least tax
    (``_least_tax``); where that realises more net gain than the tax budget allows (or the account
    is not taxable) it keeps the optimiser's own choice of lots (consistent with the budget) and
    adjusts for rounding in tax order: extra shares from the cheapest lots, fewer shares from the
    dearest. FIFO and HIFO draw the rest in their order.
    """
    lot_sec = book.lot_sec
    n = book.n
    qty = book.lot_qty
    f = np.minimum(forced_lot, qty)
    cap = np.where(limits.x_ub > 0 if free_lot is None else free_lot, qty - f, 0.0)
    rest = np.maximum(np.minimum(sell, book.quantity) - np.bincount(lot_sec, weights=f, minlength=n), 0.0)
    if method == "tax_optimal" and limits.run_tax is not None:
        least = _least_tax(book, limits, rest, cap, f, lot_price)
        if least is not None:
            return f + least
    key = lot_priority(method, qty, book.lot_basis, book.lot_acquired, limits.tax * book.price[lot_sec])
    if method == "tax_optimal":
        base = np.minimum(np.maximum(opt_lot - f, 0.0), cap)
        diff = rest - np.bincount(lot_sec, weights=base, minlength=n)
        cheap_first = grouped_order(lot_sec, key, book.lot_acquired)
        dear_first = reversed_in_groups(cheap_first, lot_sec, key, book.lot_acquired)
        add = relieve_grouped(lot_sec, np.maximum(diff, 0.0), cap - base, cheap_first)
        cut = relieve_grouped(lot_sec, np.maximum(-diff, 0.0), base, dear_first)
        take = base + add - cut
    else:
        take = relieve_grouped(lot_sec, rest, cap, grouped_order(lot_sec, key, book.lot_acquired))
    return f + take


def _least_tax(
    book: Book,
    limits: Limits,
    rest: np.ndarray,
    cap: np.ndarray,
    forced: np.ndarray,
    lot_price: np.ndarray | None = None,
) -> np.ndarray | None:
    """Shares per lot selling ``rest`` of each security (beyond the ``forced`` lots) from the lots
    that cost the year the least tax (``lots.least_tax_choice``), or None when that realises
    more net gain than the tax budget allows (the optimiser's choice keeps to it).

    The optimiser prices each lot's gain at its own term's rate; after Schedule D's netting a
    dollar costs the rate of what it nets against (a long-term gain that uses up a short-term
    loss costs the short-term rate, a loss past the year's deduction saves nothing this year), so
    the lots are chosen again for the shares it sells."""
    lot_sec = book.lot_sec
    long_ = book.lot_long
    per_share = limits.gain * (book.price[lot_sec] if lot_price is None else lot_price)
    fixed = forced * per_share
    least = least_tax_choice(lot_sec, per_share, long_, book.lot_acquired, rest, cap, limits.run_tax,
                             (float(fixed[~long_].sum()), float(fixed[long_].sum())))
    if least is None:  # (no security has a choice of lots)
        return None
    if limits.budget < math.inf and float((forced + least[0]) @ per_share) > limits.budget * book.total_value + 1e-6:
        return None
    return least[0]


def _whole_lots(book: Book, lot_sold: np.ndarray, whole: np.ndarray, all_whole: bool = False) -> None:
    """Whole shares per lot too: a lot sells a whole number of shares, or all it holds.

    Each lot's take is floored; a lot that would keep less than one share is closed instead (its
    fraction could never be sold on its own under whole shares); the whole shares still missing
    from the security's total go to the lots with the largest remainders.  A closed fractional lot
    can make the total a fraction above or below the whole number asked for.  ``all_whole``:
    ``whole`` is true for every security (its masks are then skipped: the same lots).
    """
    lot_sec, qty = book.lot_sec, book.lot_qty
    # A whole number by float noise (95.99999999999999 after a relief's sums) is that number.
    nearest = lot_sold.round()
    noise = (np.abs(lot_sold - nearest) < _EPS) & (lot_sold != nearest)
    whole_lot = None if all_whole else whole[lot_sec]
    if whole_lot is not None:
        noise &= whole_lot
    if np.count_nonzero(noise):
        lot_sold[noise] = np.minimum(nearest[noise], qty[noise])
    floored = np.floor(lot_sold + _EPS)
    positive = lot_sold > 0
    odd = positive & ((lot_sold - floored > _EPS) | (qty - lot_sold < 1 - _EPS))
    if whole_lot is not None:
        odd &= whole_lot
    if not np.count_nonzero(odd):
        return
    # Each sold lot of the securities concerned floored (or closed when less than a share would be
    # left), all at once; the whole shares this leaves unsold are redistributed below.
    concerned = np.zeros(book.n, dtype=bool)
    concerned[lot_sec[odd]] = True
    sold = (positive & concerned[lot_sec]).nonzero()[0]
    taken = lot_sold[sold]
    room = qty[sold]
    base = np.minimum(floored[sold], room)
    base = np.where(room - base < 1 - _EPS, room, base)
    # Only securities short of a whole share or more need the lot-by-lot pass; the margin keeps
    # the per-security sum's order of addition (which the pass repeats exactly) from mattering.
    sold_sec = lot_sec[sold]
    short = np.bincount(sold_sec, weights=taken - base, minlength=book.n)
    redistribute = short[sold_sec] >= 1 - _EPS - 1e-9
    floor_only = ~redistribute
    lot_sold[sold[floor_only]] = base[floor_only]
    sold = sold[redistribute]
    if not len(sold):
        return
    sold = sold[np.argsort(lot_sec[sold], kind="stable")]
    # Each security's run of lots (slices rather than np.split, which costs a Python loop of its own).
    sec = lot_sec[sold]
    cuts = [0, *((sec[1:] != sec[:-1]).nonzero()[0] + 1).tolist(), len(sold)]
    for a, b in zip(cuts[:-1], cuts[1:], strict=True):
        lots = sold[a:b]
        taken = lot_sold[lots]
        total = taken.sum()
        room = qty[lots]
        base = np.minimum(np.floor(taken + _EPS), room)
        base = np.where(room - base < 1 - _EPS, room, base)
        left = float(total - base.sum())
        if left < 1 - _EPS:
            lot_sold[lots] = base
            continue
        order = np.argsort(-(taken - np.floor(taken + _EPS)), kind="stable").tolist()
        room_l, base_l = room.tolist(), base.tolist()
        for k in order:
            if left < 1 - _EPS:
                break
            add = min(math.floor(left + _EPS), math.floor(room_l[k] - base_l[k] + _EPS))
            if room_l[k] - base_l[k] - add < 1 - _EPS:
                add = room_l[k] - base_l[k]
            base_l[k] += add
            left -= add
        lot_sold[lots] = base_l


def _repair(
    book: Book,
    plan: TargetPlan,
    limits: Limits,
    fill: Fill,
    whole: np.ndarray,
    trading: TradingParams,
    opt_lot: np.ndarray,
    lot_price: np.ndarray | None = None,
    dropped: np.ndarray | None = None,
) -> None:
    """Restore tax budget, cash floor and turnover cap after rounding (``lot_price``: each lot's
    share price, when the caller has it; ``dropped``: securities whose sale the minimum trade
    dropped).

    A sale the budget trim leaves under the minimum trade (not closing the position, not forced) is
    not made, and counts as one the minimum dropped. The floor is hard: when rounding (or the budget trim) leaves cash short, first the sales the
    optimiser wanted are rounded up (losses first, within the budget; not those the minimum trade
    dropped), then buys are trimmed, then other sellable lots are sold (cheapest tax first, within
    the budget and turnover cap).
    Whatever is still missing is left in ``fill.cash_short`` for the caller to report.
    """
    V = book.total_value
    price = book.price
    cost = limits.cost_rate
    floor = limits.cash_floor * V
    if limits.budget < math.inf:
        before = fill.sold(book) if trading.min_trade_value > 0 else None
        _trim_gains(book, limits, fill, whole, lot_price)
        while before is not None and fill.gain_trimmed > 0:
            trimmed = _drop_trimmed_below_min_trade(book, plan, limits, fill, before, trading.min_trade_value)
            dropped = trimmed if dropped is None else dropped | trimmed
            if not np.count_nonzero(trimmed):
                break
            # A dropped sale may have held a loss the rest of the run's gains leaned on.
            trimmed_so_far = fill.gain_trimmed
            _trim_gains(book, limits, fill, whole, lot_price)
            if fill.gain_trimmed <= trimmed_so_far:
                break
    # (Cash is recomputed only after a step that can change it.)
    cash = fill.cash_after(book, cost)
    if floor - cash > _CASH_TOL:
        # What the optimiser sold of each security and rounding or the budget trim took back.
        wanted = np.bincount(book.lot_sec, weights=opt_lot, minlength=book.n) - fill.sold(book)
        if dropped is not None:
            # A sale the minimum dropped comes back only if trimming buys cannot restore the floor
            # (the last step below): it is discretionary.
            wanted[dropped] = 0.0
        wanted = np.where(
            whole,
            np.ceil(wanted - 1e-6),
            np.ceil(wanted * 10**FRACTION_DECIMALS - 1e-6) / 10**FRACTION_DECIMALS,
        )
        _raise_cash(book, plan, limits, fill, whole, trading, np.maximum(wanted, 0.0))
        cash = fill.cash_after(book, cost)
    deficit = floor - cash
    if deficit > _CASH_TOL:
        _trim_buys(fill, price, whole, deficit / (1 + cost) + 1e-9, limits.b_lb * V / price)
        cash = fill.cash_after(book, cost)
    if floor - cash > _CASH_TOL:
        _raise_cash(book, plan, limits, fill, whole, trading, np.full(book.n, np.inf))
        cash = None
    if limits.max_turnover < math.inf:
        cash = None
        traded = float(fill.sold(book) @ price + fill.bought @ price)
        excess = traded - 2 * limits.max_turnover * V
        if excess > 1e-7:
            _trim_buys(fill, price, whole, excess + 1e-9, np.zeros_like(price))
            traded = float(fill.sold(book) @ price + fill.bought @ price)
            excess = traded - 2 * limits.max_turnover * V
        if excess > 1e-7:
            # Sales rounded up past the optimiser's break the cap: round them down again (if the
            # floor then fails, the conflict is named: both are hard).
            _trim_rounded_up_sales(book, limits, fill, whole, opt_lot, excess, lot_price)
    if cash is None:
        cash = fill.cash_after(book, cost)
    fill.cash_short = max(0.0, floor - cash)


def _drop_trimmed_below_min_trade(
    book: Book, plan: TargetPlan, limits: Limits, fill: Fill, before: np.ndarray, min_value: float
) -> np.ndarray:
    """Sales the budget trim took below the minimum trade are not made (in place): they are
    discretionary like the optimiser's own small ones, unless they close a position the model no
    longer holds or sell what is forced. Per security, whether its sale was dropped."""
    lot_sec = book.lot_sec
    sold = fill.sold(book)
    forced = np.bincount(lot_sec, weights=limits.forced.astype(float), minlength=book.n) > 0
    small = (
        (sold > 0)
        & (sold < before - _EPS)
        & (sold * book.price < min_value)
        & ~_closes_unheld(book, plan, sold)
        & ~forced
        & (limits.s_lb <= 0)
    )
    if np.count_nonzero(small):
        fill.lot_sold[small[lot_sec]] = 0.0
    return small


def _raise_cash(
    book: Book,
    plan: TargetPlan,
    limits: Limits,
    fill: Fill,
    whole: np.ndarray,
    trading: TradingParams,
    cap: np.ndarray,
) -> None:
    """Sell more (at most ``cap`` shares per security) until cash is back at its floor.

    Only lots the limits let go (``x_ub > 0``) of securities not being bought; securities in order
    of their cheapest lot's tax per unit sold (losses first), then most overweight; lots in the
    order of the lot-selection method.  Whole shares are rounded up; the net-gain budget and the
    turnover cap hold throughout.
    """
    V = book.total_value
    price = book.price
    lot_sec = book.lot_sec
    cost = limits.cost_rate
    lot_price = price[lot_sec]
    room = np.where(limits.x_ub > 0, np.maximum(book.lot_qty - fill.lot_sold, 0.0), 0.0)
    room[(fill.bought > 0)[lot_sec] | (cap[lot_sec] <= 0)] = 0.0
    candidates = np.flatnonzero(room * lot_price >= DUST_VALUE / 2)
    if not len(candidates):
        return
    gain_ps = limits.gain * lot_price
    gain_room = math.inf
    if limits.budget < math.inf:
        gain_room = limits.budget * V - float(gain_ps @ fill.lot_sold)
    turnover_room = math.inf
    if limits.max_turnover < math.inf:
        # Sales alone must fit the cap (buys are trimmed afterwards to make room).
        minimum_buys = float(np.ceil(limits.b_lb * V / price - 1e-6) @ price)
        turnover_room = 2 * limits.max_turnover * V - float(fill.sold(book) @ price) - minimum_buys
    lot_key = lot_priority(trading.lot_selection, book.lot_qty, book.lot_basis, book.lot_acquired, limits.tax * lot_price)
    sec_tax = np.full(book.n, np.inf)
    np.minimum.at(sec_tax, lot_sec[candidates], limits.gain[candidates])
    overweight = book.weights - plan.target
    sec_order = np.lexsort((-overweight, sec_tax))
    need = (limits.cash_floor * V - fill.cash_after(book, cost)) / (1 - cost)
    # Candidates by security, each security's in the lot-selection order: one sort, then slices
    # (lots are sorted by security).
    sec_order = sec_order[np.isfinite(sec_tax[sec_order])]  # securities with a candidate
    by_sec = grouped_order(lot_sec[candidates], lot_key[candidates], book.lot_acquired[candidates])
    ordered = candidates[by_sec]
    ordered_sec = lot_sec[ordered]
    first = np.searchsorted(ordered_sec, sec_order, side="left").tolist()
    last = np.searchsorted(ordered_sec, sec_order, side="right").tolist()
    # Python floats in the loop, by position in ``ordered``: the same arithmetic as numpy
    # scalars, without their overhead.
    whole_l, cap_l = whole[sec_order].tolist(), cap[sec_order].tolist()
    price_l, room_l = lot_price[ordered].tolist(), room[ordered].tolist()
    had_l = book.lot_qty[ordered].tolist()
    gain_ps_l = gain_ps[ordered].tolist()
    ordered = ordered.tolist()
    lot_sold = fill.lot_sold
    for k in range(len(first)):
        if need <= _CASH_TOL or turnover_room <= _CASH_TOL:
            break
        left = cap_l[k]
        for at in range(first[k], last[k]):
            if need <= _CASH_TOL or left <= _EPS or turnover_room <= _CASH_TOL:
                break
            j, price_j = ordered[at], price_l[at]
            shares = min(need, turnover_room) / price_j
            if whole_l[k]:
                # Whole shares keeping at least one, or the whole lot (``_lot_up``/``_lot_down``).
                had, held = lot_sold[j], had_l[at]
                shares = _lot_up(had + min(shares, room_l[at], left), held) - had
                if shares > left + _EPS:
                    shares = _lot_down(had + left, held) - had
                if gain_ps_l[at] > 0 and shares > max(gain_room, 0.0) / gain_ps_l[at] + _EPS:
                    shares = _lot_down(had + max(gain_room, 0.0) / gain_ps_l[at], held) - had
                if shares * price_j > turnover_room + _CASH_TOL:
                    shares = _lot_down(had + turnover_room / price_j, held) - had
            else:
                shares = math.ceil(shares * 10**FRACTION_DECIMALS - 1e-6) / 10**FRACTION_DECIMALS
                shares = min(shares, room_l[at], left)
                if gain_ps_l[at] > 0:
                    fits = max(gain_room, 0.0) / gain_ps_l[at]
                    if shares > fits + _EPS:
                        shares = math.floor(fits * 1e6) / 1e6
                if shares * price_j > turnover_room + _CASH_TOL:
                    # Rounded up, the sale would break the turnover cap: the cap holds too (what is
                    # still missing is reported as cash short, and the conflict named).
                    shares = math.floor(turnover_room / price_j * 1e6) / 1e6
            if shares * price_j < DUST_VALUE / 2:
                continue
            lot_sold[j] += shares
            value = shares * price_j
            need -= value
            gain_room -= shares * gain_ps_l[at]
            turnover_room -= value
            left -= shares


def _trim_rounded_up_sales(
    book: Book,
    limits: Limits,
    fill: Fill,
    whole: np.ndarray,
    opt_lot: np.ndarray,
    excess: float,
    lot_price: np.ndarray | None = None,
) -> None:
    """Sell less of the lots rounding took above the optimiser's answer (largest first, whole
    shares per lot, never below it or below what is forced) until ``excess`` of turnover is gone.
    Selling less of a loss lot realises more net gain: within the tax budget only."""
    lot_price = book.price[book.lot_sec] if lot_price is None else lot_price
    qty = book.lot_qty
    gain_ps = limits.gain * lot_price
    gain_room = limits.budget * book.total_value - float(gain_ps @ fill.lot_sold)
    over = (fill.lot_sold - opt_lot) * lot_price
    for j in np.argsort(-over):
        if excess <= 1e-7 or over[j] <= _EPS or limits.forced[j]:
            break
        had = fill.lot_sold[j]
        shares = excess / lot_price[j]
        if gain_ps[j] < 0:
            shares = min(shares, max(gain_room, 0.0) / -gain_ps[j])
        if whole[book.lot_sec[j]]:
            least = _lot_down(opt_lot[j], qty[j])
            now = max(_lot_down(had - math.ceil(shares - _EPS), qty[j]), least)
            if gain_ps[j] < 0 and (had - now) * -gain_ps[j] > gain_room + 1e-6:
                now = _lot_up(had - max(gain_room, 0.0) / -gain_ps[j], qty[j])
            cut = max(had - now, 0.0)
        else:
            cut = min(had - opt_lot[j], shares)
        fill.lot_sold[j] -= cut
        excess -= cut * lot_price[j]
        gain_room += cut * gain_ps[j]


def _trim_buys(fill: Fill, price: np.ndarray, whole: np.ndarray, amount: float, minimum: np.ndarray) -> None:
    """Reduce buys, largest first, by at least ``amount`` of value."""
    value = fill.bought * price
    for i in np.argsort(-value):
        if amount <= 0 or fill.bought[i] <= 0:
            break
        room = fill.bought[i] - (np.ceil(minimum[i] - _EPS) if minimum[i] > 0 else 0.0)
        if room <= 0:
            continue
        shares = amount / price[i]
        shares = (
            math.ceil(shares - _EPS)
            if whole[i]
            else math.ceil(shares * 10**FRACTION_DECIMALS) / 10**FRACTION_DECIMALS
        )
        cut = min(room, shares)
        fill.bought[i] -= cut
        amount -= cut * price[i]
    fill.bought[fill.bought * price < DUST_VALUE] = 0.0


def _trim_gains(
    book: Book, limits: Limits, fill: Fill, whole: np.ndarray, lot_price: np.ndarray | None = None
) -> None:
    """Sell fewer gain shares (largest gain per share first) until net gain fits the budget."""
    V = book.total_value
    price = book.price[book.lot_sec] if lot_price is None else lot_price
    value = fill.lot_sold * price
    gain_lot = limits.gain * value
    excess = float(gain_lot.sum()) - limits.budget * V
    if excess <= 1e-6:
        return
    fill.gain_trimmed += excess
    per_share = limits.gain * price
    candidates = np.flatnonzero((fill.lot_sold > 0) & (per_share > 0) & ~limits.forced)
    for j in candidates[np.argsort(-per_share[candidates])]:
        if excess <= 1e-6:
            break
        shares = excess / per_share[j]
        if whole[book.lot_sec[j]]:
            # Whole shares per lot: a lot keeps at least one share, or sells all it holds (a
            # security's total may stay a fraction: a fractional lot closed is sold whole).
            cut = fill.lot_sold[j] - _lot_down(fill.lot_sold[j] - shares, book.lot_qty[j])
        else:
            cut = min(fill.lot_sold[j], shares)
        fill.lot_sold[j] -= cut
        excess -= cut * per_share[j]
