"""Capital-gains tax: holding period, netting, estimated tax.

Sources: IRC §1222 and IRS Publication 550 ("Capital Gains and Losses"): a gain or loss is
long-term when the asset was held *more than one year*; the holding period starts the day after
acquisition and includes the day of sale.  Netting follows Schedule D / Pub. 550: short-term and
long-term results are netted separately, then a net loss on one side offsets a net gain on the
other; a remaining net capital loss offsets at most $3,000 of ordinary income a year
(IRC §1211(b)), the rest is carried forward (not valued here). That deduction saves tax only as
far as the return's taxable income absorbs it: the Capital Loss Carryover Worksheet's line 4
(``deduction_used``; IRC §1212(b)(2)) is what the estimate credits, and what it leaves is carried.

One return, several accounts: the tax a proposal costs is what it adds to its return's Schedule D
(``TaxReturn``, ``run_tax``): the return's whole year so far - every account on it, the loss carried
in, the return's whole 3,000 - with the proposal's results added, less the same without them.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field, replace
from datetime import date, timedelta

import numpy as np

__all__ = [
    "ORDINARY_LOSS_LIMIT",
    "netting_reserve",
    "long_term_from",
    "is_long_term",
    "term",
    "long_term_mask",
    "replacement_start",
    "inherited_start",
    "gift_basis",
    "gift_start",
    "NetGains",
    "net_gains",
    "deduction_used",
    "estimated_tax",
    "incremental_tax",
    "TaxReturn",
    "run_tax",
    "returns_after",
    "realised_on_returns",
    "realised_add",
    "runs_tax",
    "own_return",
    "RunTax",
]

ORDINARY_LOSS_LIMIT = 3000.0


def long_term_from(acquired: date) -> date:
    """The first day a sale of a lot acquired on ``acquired`` is long-term.

    The holding period is counted in calendar months from the day after the acquisition, the sale
    day included (Pub. 550: "start counting on the date after the day you acquired the property";
    Rev. Rul. 66-7, 1966-1 C.B. 188: by calendar months, not days; Rev. Rul. 70-598): the twelfth
    month ends the day before the same date a year after the count began, so the lot is held more
    than one year from that date on. A lot bought 2023-01-05 is long-term from 2024-01-06.
    Property acquired on the last day of a month must be held until the first day of the
    thirteenth month after it (Rev. Rul. 66-7): bought 2023-02-28, its twelfth month ends
    2024-02-29 and it is long-term from 2024-03-01. A count begun on 29 February starts its
    thirteenth month on 1 March of a common year (bought 2024-02-28: long-term from 2025-03-01).
    """
    start = acquired + timedelta(days=1)
    try:
        return start.replace(year=start.year + 1)
    except ValueError:  # 29 February in a common year: that month's 29th is its 1 March
        return date(start.year + 1, 3, 1)


def is_long_term(acquired: date, sold: date) -> bool:
    """True if a sale on ``sold`` of a lot acquired on ``acquired`` is long-term (held more than
    one year, IRC §1222): on or after ``long_term_from(acquired)``."""
    return sold >= long_term_from(acquired)


def term(acquired: date, sold: date) -> str:
    """``"long"`` or ``"short"`` for a sale on ``sold``."""
    return "long" if is_long_term(acquired, sold) else "short"


def replacement_start(purchased: date, sold: date, sold_start: date) -> date:
    """Where a wash sale's replacement share's holding period starts (as an acquisition day, like
    ``long_term_from``'s): IRC §1223(3) adds the sold share's holding period (which started on
    ``sold_start``) to the replacement's, a day held as both counting once (Pub. 550, "Wash
    Sales"). Bought on or after the sale (``sold``), the sold share's days come before its own:
    they start that many days before its purchase. Bought before the sale, the two periods
    overlap: it starts where the earlier of them did."""
    if purchased >= sold:
        return purchased - timedelta(days=(sold - sold_start).days)
    return min(purchased, sold_start)


def inherited_start(passed: date) -> date:
    """Where the holding period of shares inherited on ``passed`` starts (as an acquisition day,
    like ``long_term_from``'s): property acquired from a decedent is held more than one year
    whenever it is sold (IRC §1223(9); Pub. 550 "Inherited property"), so it starts on the last
    day whose lot is long-term when sold on ``passed``."""
    return _latest_long_term_acquisition(passed)


def gift_basis(proceeds, donor_basis, fair_value):
    """The basis of gifted shares sold for ``proceeds`` (IRC §1015(a); Pub. 551 "Property Received
    as a Gift"): the donor's adjusted basis, unless the fair market value on the day of the gift
    was below it - then the basis for a loss is that value, and a sale between the two realises
    neither gain nor loss (the basis is the proceeds). Any numeric type, all of one kind."""
    if fair_value >= donor_basis or proceeds >= donor_basis:
        return donor_basis
    if proceeds <= fair_value:
        return fair_value
    return proceeds


def gift_start(proceeds, donor_basis, fair_value, donor_start: date, gifted: date) -> date:
    """Where the holding period of gifted shares sold for ``proceeds`` starts (as an acquisition
    day): the donor's, when the donor's basis is the one used (IRC §1223(2)); the day of the gift
    when the value on that day is (a loss below it, ``gift_basis``: Pub. 550 "Holding Period",
    it starts the day after the gift)."""
    return gifted if fair_value < donor_basis and proceeds < fair_value else donor_start


@functools.lru_cache(maxsize=64)
def _latest_long_term_acquisition(sold: date) -> date:
    """The last acquisition day whose lot is long-term when sold on ``sold`` (``long_term_from``
    never decreases as the acquisition day moves later, so the lots long-term on a day are those
    acquired up to one day).  A pure function of the day, cached: every account of a run asks it
    for the run's date and for a month later, each time a loop of date arithmetic."""
    day = date.fromordinal(sold.toordinal() - 368)  # long-term by more than a day: a year is <= 366
    while long_term_from(day + timedelta(days=1)) <= sold:
        day += timedelta(days=1)
    return day


def long_term_mask(acquired_ordinals: np.ndarray, sold: date) -> np.ndarray:
    """Vectorised ``is_long_term`` over acquisition dates given as ``date.toordinal()`` values."""
    if len(acquired_ordinals) == 0:
        return np.zeros(0, dtype=bool)
    return np.asarray(acquired_ordinals) <= _latest_long_term_acquisition(sold).toordinal()


@dataclass(frozen=True, slots=True)
class NetGains:
    """Result of netting: net short-term, net long-term, and the ordinary-income deduction."""

    short_term: float
    long_term: float
    ordinary_deduction: float


def net_gains(short_term: float, long_term: float, loss_limit: float = ORDINARY_LOSS_LIMIT) -> NetGains:
    """Net short- and long-term results against each other (Schedule D order).

    A net loss on one side reduces a net gain on the other; what remains negative on both is a
    net capital loss, of which at most ``loss_limit`` is deducted from ordinary income.
    """
    return NetGains(*_netted(short_term, long_term, loss_limit))


def _netted(short_term: float, long_term: float, loss_limit: float) -> tuple[float, float, float]:
    """``net_gains`` as a tuple (``estimated_tax`` takes it twice per proposal)."""
    st, lt = float(short_term), float(long_term)
    if st < 0 < lt:
        lt, st = lt + st, 0.0
        if lt < 0:
            st, lt = lt, 0.0
    elif lt < 0 < st:
        st, lt = st + lt, 0.0
        if st < 0:
            lt, st = st, 0.0
    deduction = 0.0
    if st <= 0 and lt <= 0:
        deduction = min(loss_limit, -(st + lt))
        return min(st, 0.0), min(lt, 0.0), deduction
    return st, lt, 0.0


def deduction_used(deduction, taxable_income):
    """The Capital Loss Carryover Worksheet's line 4 (Schedule D instructions; IRC §1212(b)(2)): the
    part of the year's deduction of a net capital loss (``deduction``, Schedule D line 21 as a
    positive amount: line 2) that the return's taxable income absorbed - the smaller of line 2 and
    line 3, the taxable income (Form 1040 line 15, negative when deductions exceed income: line 1)
    plus line 2, or 0 if less. The whole deduction when the taxable income is not known (None: the
    test taken as met). Floats or Decimals, both of one kind (``ledger.ScheduleD`` takes it too)."""
    if taxable_income is None:
        return deduction
    return min(deduction, max(taxable_income + deduction, deduction * 0))


def estimated_tax(short_term: float, long_term: float, short_rate: float, long_rate: float,
                  loss_limit: float = ORDINARY_LOSS_LIMIT, taxable_income: float | None = None) -> float:
    """Tax on a year's net capital result; negative when a net loss reduces ordinary income.

    Short-term gains are taxed at ``short_rate`` (ordinary income), long-term at ``long_rate``; a
    net loss reduces ordinary income by at most ``loss_limit`` (its return's, ``TaxReturn``), and
    saves tax only on the part the return's ``taxable_income`` absorbs (``deduction_used``: a
    deduction that takes taxable income below 0 saves nothing this year, it is carried; None: not
    known, the whole deduction counts).
    """
    short, long, deduction = _netted(short_term, long_term, loss_limit)
    if deduction > 0:
        used = deduction_used(deduction, taxable_income)
        return -used * short_rate if used > 0 else 0.0
    return max(short, 0.0) * short_rate + max(long, 0.0) * long_rate


def netting_reserve(short_term: float, long_term: float, short_rate: float, long_rate: float,
                    loss_limit: float = ORDINARY_LOSS_LIMIT, taxable_income: float | None = None) -> float:
    """The most that gains added to a year's net results (``short_term``/``long_term``, the loss
    carried in already taken off) can cost beyond each gain's own rate.

    Schedule D nets the two terms before either is taxed, so a long-term gain that uses up a
    short-term loss, or the year's deduction from ordinary income (IRC §1211(b)), costs the rate that
    loss or deduction was worth, not the long-term rate (and with a long-term rate above the
    short-term one the same holds the other way). A budget that prices each gain at its own rate,
    set this much aside, holds the year's tax within it. The excess is piecewise linear in the gains
    added and bounded, so its largest value is at a corner of its pieces: where a term's result or
    the net result crosses zero, the net loss crosses the deduction limit, or the net result
    crosses a negative taxable income (``deduction_used``: a smaller loss saves nothing)."""
    base = estimated_tax(short_term, long_term, short_rate, long_rate, loss_limit, taxable_income)
    net = short_term + long_term
    # the pieces' edges as a*short + b*long = c, in the plane of the gains added
    edges = ((1, 0, 0.0), (0, 1, 0.0), (1, 0, -short_term), (0, 1, -long_term), (1, 1, -net),
             (1, 1, -net - loss_limit))
    if taxable_income is not None:
        edges += ((1, 1, taxable_income - net),)
    most = 0.0
    for i, (a1, b1, c1) in enumerate(edges):
        for a2, b2, c2 in edges[i + 1:]:
            det = a1 * b2 - a2 * b1
            if det == 0:
                continue
            short, long = (c1 * b2 - c2 * b1) / det, (a1 * c2 - a2 * c1) / det
            if short >= 0 and long >= 0:
                after = estimated_tax(short_term + short, long_term + long, short_rate, long_rate, loss_limit,
                                      taxable_income)
                most = max(most, after - base - short_rate * short - long_rate * long)
    return most


def incremental_tax(
    ytd_short: float, ytd_long: float, run_short: float, run_long: float, short_rate: float, long_rate: float,
    loss_limit: float = ORDINARY_LOSS_LIMIT, taxable_income: float | None = None,
) -> float:
    """Extra tax for the year caused by this run's gains, given what was realised so far."""
    before = estimated_tax(ytd_short, ytd_long, short_rate, long_rate, loss_limit, taxable_income)
    after = estimated_tax(ytd_short + run_short, ytd_long + run_long, short_rate, long_rate, loss_limit,
                          taxable_income)
    return after - before


@dataclass(frozen=True, slots=True)
class TaxReturn:
    """A return an account's sales are reported on (Schedule D), as the account's estimate sees it.

    ``share``: the part of the account's results reported on it (1; 0.5 for each half of a joint
    account of a couple filing separately); ``short_term_ytd``/``long_term_ytd``: the return's net
    results realised this year by every account on it, this account's part included (and, in a run,
    what was just proposed for accounts solved before it, ``returns_after``); ``carried_*``: the
    capital loss the return carries in (positive amounts, IRC §1212(b)); ``loss_limit``: its yearly
    deduction from ordinary income (3,000; 1,500 married filing separately, IRC §1211(b));
    ``taxable_income``: the return's taxable income of the year as the firm entered it (Form 1040
    line 15, the carryover worksheet's line 1: the deduction saves tax only as far as it absorbs
    it, ``deduction_used``), None when not entered (the whole deduction counts);
    ``id``: names the return across the household's accounts."""

    short_term_ytd: float = 0.0
    long_term_ytd: float = 0.0
    carried_short: float = 0.0
    carried_long: float = 0.0
    loss_limit: float = ORDINARY_LOSS_LIMIT
    share: float = 1.0
    id: str = ""
    taxable_income: float | None = None

    def tax(self, run_short: float, run_long: float, short_rate: float, long_rate: float) -> float:
        """What the return owes more (less: negative) for a run realising these net results."""
        return incremental_tax(self.short_term_ytd - self.carried_short, self.long_term_ytd - self.carried_long,
                               self.share * run_short, self.share * run_long, short_rate, long_rate,
                               self.loss_limit, self.taxable_income)


def own_return(account) -> TaxReturn:
    """An account given no return (``tax_returns`` empty): it is its return - its own year so
    far, its loss carried in and its loss limit (a request written by hand, the backtest)."""
    return TaxReturn(account.realised_short_term_ytd, account.realised_long_term_ytd,
                     account.loss_carryforward_short, account.loss_carryforward_long, account.ordinary_loss_limit)


def run_tax(account, run_short: float, run_long: float) -> float:
    """The tax a run of ``account`` (an ``engine.Account``) costs: the sum over the returns its
    sales go on of what each return owes more with the run's net results than without (Pub. 550,
    Schedule D: the return nets all its accounts' gains and losses, then the carried loss, then
    deducts at most its limit). 0 for a tax-deferred account.

    The figure is the run's marginal tax given the return's year so far: alone it is exactly what
    the return will pay for it; proposals of several accounts solved one after the other, each
    seeing those before it (``returns_after``), add up to what the return pays for all of them."""
    if not account.taxable:
        return 0.0
    returns = account.tax_returns or (own_return(account),)
    return sum(r.tax(run_short, run_long, account.short_term_rate, account.long_term_rate) for r in returns)


@dataclass(frozen=True, slots=True)
class RunTax:
    """``run_tax`` of one taxable account as a function of the run's net short- and long-term
    results (``RunTax.of(account)(short, long)``), with what a search over lot choices needs of its
    shape: ``kinks``, the lines ``a * short + b * long = c`` its linear pieces meet on (per return,
    where a term's result, the net result, or the net loss past the deduction limit crosses zero,
    and where the net result crosses the return's taxable income when it is entered: Schedule D's
    netting and the worksheet's taxable-income test, ``estimated_tax``), and ``thetas``, the ratios ``a / (a + b)`` of each
    piece's short- and long-term marginal rates (per return the two rates when both terms are net
    gains, the long-term rate on both for a net long-term gain absorbing a short-term loss, the
    short-term rate on both for a net short-term gain or a net loss within the deduction limit,
    nothing past it; summed over the returns by share), sorted."""

    short_rate: float
    long_rate: float
    returns: tuple[TaxReturn, ...]
    kinks: tuple[tuple[float, float, float], ...]
    thetas: tuple[float, ...]
    # Per return: its year so far less the loss carried in (short, long), share, loss limit,
    # taxable income and the year's tax without the run - ``TaxReturn.tax``'s constants, taken once
    # (a least-tax search prices a handful of corners per proposal).
    _bases: tuple[tuple[float, float, float, float, float | None, float], ...] = field(
        init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        rs, rl = self.short_rate, self.long_rate
        bases = []
        for r in self.returns:
            s0, l0 = r.short_term_ytd - r.carried_short, r.long_term_ytd - r.carried_long
            bases.append((s0, l0, r.share, r.loss_limit, r.taxable_income,
                          estimated_tax(s0, l0, rs, rl, r.loss_limit, r.taxable_income)))
        object.__setattr__(self, "_bases", tuple(bases))

    @classmethod
    def of(cls, account) -> RunTax:
        returns = account.tax_returns or (own_return(account),)
        rs, rl = account.short_term_rate, account.long_term_rate
        lines = []
        for r in returns:
            s0, l0, k = r.short_term_ytd - r.carried_short, r.long_term_ytd - r.carried_long, r.share
            lines += [(k, 0.0, -s0), (0.0, k, -l0), (k, k, -(s0 + l0)), (k, k, -(s0 + l0) - r.loss_limit)]
            if r.taxable_income is not None:
                lines.append((k, k, r.taxable_income - (s0 + l0)))
        return cls(rs, rl, returns, tuple(lines), _piece_thetas(rs, rl, tuple(r.share for r in returns)))

    def __call__(self, run_short: float, run_long: float) -> float:
        """``run_tax(account, run_short, run_long)``: ``TaxReturn.tax`` summed over the returns, the
        same operations in the same order (tests/engine/test_least_tax_relief.py holds them equal)."""
        rs, rl = self.short_rate, self.long_rate
        total = 0  # (as ``sum`` starts)
        for s0, l0, share, limit, income, before in self._bases:
            total += estimated_tax(s0 + share * run_short, l0 + share * run_long, rs, rl, limit, income) - before
        return total


@functools.lru_cache(maxsize=256)
def _piece_thetas(rs: float, rl: float, shares: tuple[float, ...]) -> tuple[float, ...]:
    """``RunTax.thetas`` for the rates and the returns' shares: a pure function of them, cached
    (the accounts of a run share a few brackets)."""
    pieces = ((rs, rl), (rl, rl), (rs, rs), (0.0, 0.0))
    sums = {(0.0, 0.0)}
    for share in shares:
        sums = {(a + share * pa, b + share * pb) for a, b in sums for pa, pb in pieces}
    return tuple(sorted({a / (a + b) for a, b in sums if a + b > 0}))


def returns_after(returns: tuple[TaxReturn, ...], realised: dict[str, tuple[float, float]]) -> tuple[TaxReturn, ...]:
    """``returns`` with ``realised`` (return id -> net short-term, long-term proposed on it by
    accounts solved before) added to their year so far."""
    out = []
    for r in returns:
        short, long = realised.get(r.id, (0.0, 0.0))
        out.append(replace(r, short_term_ytd=r.short_term_ytd + short, long_term_ytd=r.long_term_ytd + long)
                   if short or long else r)
    return tuple(out)


def realised_on_returns(account, run_short: float, run_long: float) -> dict[str, tuple[float, float]]:
    """A run's net results as they land on each of ``account``'s returns (its share of them)."""
    if not account.taxable:
        return {}
    return {r.id: (r.share * run_short, r.share * run_long) for r in account.tax_returns}


def realised_add(on_returns: dict[str, tuple[float, float]], account, summary) -> dict[str, tuple[float, float]]:
    """``on_returns`` (return id -> net short-term, long-term proposed on it so far) with a
    result's (its ``summary``'s) net realised results added where they land, for the accounts
    solved after it (``returns_after``)."""
    out = dict(on_returns)
    run_short = summary.realised_short_term_gain - summary.realised_short_term_loss
    run_long = summary.realised_long_term_gain - summary.realised_long_term_loss
    for rid, (short, long) in realised_on_returns(account, run_short, run_long).items():
        before = out.get(rid, (0.0, 0.0))
        out[rid] = (before[0] + short, before[1] + long)
    return out


def runs_tax(runs) -> dict[str, float]:
    """Each account's tax for ``runs`` (``(engine.Account, net short-term, net long-term)`` in the
    order the accounts are solved), each netted after the runs before it on its returns: what a
    plan over several accounts (a withdrawal's sales) costs each, adding up to what the returns pay."""
    out: dict[str, float] = {}
    before: dict[str, tuple[float, float]] = {}
    for account, run_short, run_long in runs:
        if account.tax_returns:
            account = replace(account, tax_returns=returns_after(account.tax_returns, before))
        out[account.id] = run_tax(account, run_short, run_long)
        for rid, (short, long) in realised_on_returns(account, run_short, run_long).items():
            seen = before.get(rid, (0.0, 0.0))
            before[rid] = (seen[0] + short, seen[1] + long)
    return out
