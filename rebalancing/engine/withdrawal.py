"""Which account and which lots fund a household withdrawal or a required minimum distribution.

The order, least tax first, each kind of account's cash before its lots ("cash first"):

1. taxable accounts: cash, then the lots that raise the rest for the least tax once Schedule D nets
   their gains and losses with each other and with the year so far (``lots.least_tax_by_corners``:
   a short-term loss that ends up offsetting a long-term gain saves only the long-term rate, a
   gain that a loss realised this year absorbs costs that loss's rate, a loss past the year's
   $3,000 deduction saves nothing this year; IRS Pub. 550, IRC §1211(b), §1212(b)) - so usually
   losses first and, at equal gains, long-term before short-term. Lots are listed by the tax each
   dollar raised costs at the lot's own rate (``rate x gain / proceeds``, long-term if held more
   than a year), which also breaks ties. Until the evening of 2026-12-06 the lots were taken in
   that order alone, which is not the least tax when the netting decides (a short-term loss sold
   beside a long-term gain where a short-term gain would have absorbed it at 37%); the least-tax
   choice needs one tax picture, so taxable accounts reported on different returns (a couple
   filing separately, each with an account of their own) are still drawn in that order;
2. traditional (tax-deferred) accounts: cash, then lots; every dollar out is ordinary income (IRC §408(d)(1)),
   taxed at the account's ``short_term_rate`` (``distribution_rate``), which for a traditional account
   is the owner's marginal ordinary-income rate without the 3.8% net investment income tax: an IRA
   distribution is not net investment income (IRC §1411(c)(5)), where a taxable account's short-term
   rate carries it (40.8% = 37% + 3.8%);
3. Roth accounts last: a qualified distribution is tax-free (IRC §408A(d)), but every dollar
   taken gives up tax-free growth.

A traditional account whose owner is under 59½ on the day (``birth_dates``) comes after the others:
its distribution also bears the 10% additional tax on early distributions (IRC §72(t)(1); none of
§72(t)(2)'s exceptions is assumed), which the plan's tax includes.

A withdrawal from the household (no ``account_id``) while a traditional IRA still owes this year's
RMD (``rmd_owed``) takes what is owed first, from the IRAs it may come from, then the rest in the
order above: a distribution from the IRA counts towards its RMD (Treas. Reg. §1.408-8, Q&A-9), and
the RMD comes out this year, taxed as ordinary income, whichever account funds the withdrawal.

A required minimum distribution (``kind="rmd"``) comes only from the traditional account it is
due from (``account_id``; all traditional accounts when None) - cash first, then the positions the
household holds most above its model.  A withdrawal with ``account_id`` comes only from that
account.  A loss lot whose security (or a substantially identical one) was bought in the last 30
days in any account of the household is never sold: the sale would be a wash sale (IRC §1091,
Rev. Rul. 2008-5 for IRA purchases) - but the lot's own purchase is not its replacement (Rev. Rul.
56-602), so a loss lot bought in the window is sold when nothing else of its group was bought.  The
plan only sells, so it creates no new purchase.
"""

from __future__ import annotations

import calendar
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date

import numpy as np

from .errors import InvalidRequest
from .household import (
    HouseholdAccount,
    HouseholdRequest,
    household_equivalence,
    household_window_trades,
    validate_household,
)
from .lots import least_tax_by_corners
from .placement import model_weights
from .request import Account, TaxLot
from .result import LotSale
from .tax import RunTax, is_long_term, realised_on_returns, returns_after, runs_tax
from .wash_sales import window_activity
from .words import dollars

__all__ = [
    "EARLY_DISTRIBUTION_RATE",
    "NIIT_RATE",
    "WITHDRAWAL_KINDS",
    "WithdrawalPlan",
    "age_59_and_a_half",
    "distribution_rate",
    "household_after_plan",
    "plan_withdrawal",
    "sales_words",
]

WITHDRAWAL_KINDS = ("withdrawal", "rmd")
EARLY_DISTRIBUTION_RATE = 0.10  # IRC §72(t)(1)
NIIT_RATE = 0.038  # IRC §1411(a)(1); never on an IRA distribution, §1411(c)(5)
_SOURCE_ORDER = {"taxable": 0, "traditional": 1, "roth": 2}
NOT_SOLD_NAMED = 5  # lots a refusal names in its message; its detail lists every one


def age_59_and_a_half(birth_date: date) -> date:
    """The day the owner reaches 59½: six calendar months after the 59th birthday (the month's
    last day where the day does not exist, as for 31 August -> 28 or 29 February)."""
    months = birth_date.month - 1 + 6
    year, month = birth_date.year + 59 + months // 12, months % 12 + 1
    return date(year, month, min(birth_date.day, calendar.monthrange(year, month)[1]))


def distribution_rate(account: Account) -> float:
    """The rate a traditional account's distribution is taxed at: its ``short_term_rate``, which for a
    tax-deferred account holds the owner's marginal ordinary-income rate (federal and state) without
    the 3.8% NIIT. The whole distribution is ordinary income (IRC §408(d)(1)) and none of it is net
    investment income (IRC §1411(c)(5)); an IRA realises no gains, so the rate has no other use."""
    return account.short_term_rate


def _percent(rate: float) -> str:
    """37% for 0.37, 40.8% for 0.408 (a whole-percent format would show 41%)."""
    return f"{rate * 100:.2f}".rstrip("0").rstrip(".") + "%"


@dataclass(frozen=True, slots=True)
class WithdrawalPlan:
    """How the household raises ``amount``: the lots sold (account id, sale), the cash taken per
    account, the estimated tax of the choice (capital gains tax in taxable accounts, ordinary
    income tax on a traditional account's distribution; a loss lowers it) and why, in words.

    ``raised`` may exceed ``amount`` by less than a share's price where whole shares are sold; the
    excess stays in the account of the last sale as cash, so ``distributions`` add up to ``amount``."""

    amount: float
    kind: str
    sales: tuple[tuple[str, str, LotSale], ...]  # (account id, symbol, lot sale)
    cash_used: Mapping[str, float]
    distributions: Mapping[str, float]  # account id -> money taken out of it (cash + proceeds)
    tax_cost: float
    raised: float
    explanation: tuple[str, ...]
    early_tax: Mapping[str, float] = field(default_factory=dict)  # account id -> §72(t) tax, in tax_cost
    # account id -> what the withdrawal took first as the RMD the IRA still owed (``rmd_owed``)
    rmd_taken: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Candidate:
    key: tuple
    account: HouseholdAccount
    lot_id: str
    symbol: str
    quantity: float
    price: float
    basis: float
    term: str
    whole: bool


def plan_withdrawal(
    request: HouseholdRequest,
    *,
    amount: float,
    kind: str = "withdrawal",
    account_id: str | None = None,
    birth_dates: Mapping[str, date] | None = None,
    rmd_owed: Sequence[tuple[Sequence[str], float]] = (),
) -> WithdrawalPlan:
    """Choose the cash and lots that fund ``amount`` out of the household (see the module
    docstring for the order); ``birth_dates``: the owner's, by traditional account (an account
    without one bears no early-distribution tax); ``rmd_owed``: the RMDs still to be taken this year,
    each as the traditional accounts it may come from (one owner's IRAs share one total) and what is
    left of it - a withdrawal from anywhere in the household takes that first (see ``_rmd_first``).
    Raises ``InvalidRequest`` when the amount, kind or account is wrong, or when the accounts it may
    come from cannot raise it without a wash sale."""
    if (
        isinstance(amount, bool)
        or not isinstance(amount, int | float)
        or not math.isfinite(amount)
        or amount <= 0
    ):
        raise InvalidRequest(f"the amount to withdraw must be a positive number, got {amount!r}")
    if kind not in WITHDRAWAL_KINDS:
        raise InvalidRequest(f"kind must be one of {', '.join(WITHDRAWAL_KINDS)}, got {kind!r}")
    accounts = {a.id: a for a in request.accounts}
    if account_id is not None and account_id not in accounts:
        raise InvalidRequest(f"account {account_id!r} is not in household {request.household_id}")
    owed = _rmd_owed_checked(rmd_owed, accounts) if kind == "withdrawal" and account_id is None else []
    if owed:
        return _rmd_first(request, float(amount), owed, birth_dates)
    return _plan(request, amount=amount, kind=kind, account_id=account_id, birth_dates=birth_dates)


def _rmd_owed_checked(rmd_owed, accounts: Mapping[str, HouseholdAccount]) -> list[tuple[tuple[str, ...], float]]:
    owed = []
    for ids, left in rmd_owed:
        ids = tuple(ids)
        for i in ids:
            if i not in accounts or accounts[i].tax_status != "traditional":
                raise InvalidRequest(f"an RMD owed is taken from a traditional account of the household; {i!r} is not one")
        if isinstance(left, bool) or not isinstance(left, int | float) or not math.isfinite(left) or left < 0:
            raise InvalidRequest(f"an RMD owed must be a number of dollars at least 0, got {left!r}")
        if left >= 0.005:
            owed.append((ids, float(left)))
    return owed


def _rmd_first(request: HouseholdRequest, amount: float, owed, birth_dates) -> WithdrawalPlan:
    """A withdrawal while an IRA still owes this year's RMD: what is owed is taken first, from the
    IRAs it may come from, up to the amount. Any distribution from a traditional IRA counts towards
    its RMD (Treas. Reg. §1.408-8, Q&A-9; Pub. 590-B), and the RMD must come out by its deadline
    anyway, taxed as ordinary income either way: funding the withdrawal elsewhere would realise gains
    (or draw on a Roth) now and still leave the RMD to take, more money out of the household's
    shelter than the client asked for. The rest is planned as any withdrawal, on the household as
    the RMD part leaves it."""
    parts: list[WithdrawalPlan] = []
    left = amount
    taken = 0.0  # summed, not ``amount - left``: an absurd amount (1e300) would cancel what the RMDs raised
    words: list[str] = []
    prices = {sec.symbol: sec.price for sec in request.securities}
    for ids, still in owed:
        members = [a for a in request.accounts if a.id in ids]
        can = sum(max(m.request.account.cash, 0.0) for m in members) + sum(
            lot.quantity * prices.get(lot.symbol, 0.0)
            for m in members
            for lot in m.request.account.lots
            if lot.quantity > 0
        )
        take = min(still, left, can)
        if take < 0.005:
            continue
        part = _plan(request, amount=take, kind="rmd", account_id=None, birth_dates=birth_dates, sources_ids=ids)
        words.append(
            f"first {dollars(take)} from {' or '.join(ids)}: {dollars(still)} of its required minimum distribution "
            "is still to be taken this year, and a withdrawal from the IRA counts towards it (Treas. Reg. "
            "§1.408-8, Q&A-9), so that money leaves the IRA, taxed as ordinary income, whichever account "
            "funds this withdrawal"
        )
        parts.append(part)
        request = household_after_plan(request, part)
        left -= take
        taken += take
    if left >= 0.005:
        parts.append(_plan(request, amount=left, kind="withdrawal", account_id=None, birth_dates=birth_dates,
                           taken_before=taken, asked=amount))
    return _joined(amount, parts, words, len(words))


def _joined(amount: float, parts: list[WithdrawalPlan], words: list[str], owed_parts: int) -> WithdrawalPlan:
    """One plan of its parts, taken in turn (the first ``owed_parts`` the RMDs owed): a lot sold in two
    parts is one sale of their shares."""
    sales: dict[tuple[str, str, str], LotSale] = {}
    cash_used: dict[str, float] = defaultdict(float)
    distributions: dict[str, float] = defaultdict(float)
    early: dict[str, float] = defaultdict(float)
    for part in parts:
        for acc, symbol, s in part.sales:
            key = (acc, symbol, s.lot_id)
            was = sales.get(key)
            sales[key] = s if was is None else LotSale(
                s.lot_id, was.quantity + s.quantity, was.proceeds + s.proceeds, was.cost_basis + s.cost_basis,
                was.gain + s.gain, s.term,
            )  # fmt: skip
        for table, more in ((cash_used, part.cash_used), (distributions, part.distributions), (early, part.early_tax)):
            for k, v in more.items():
                table[k] += v
    return WithdrawalPlan(
        amount=amount,
        kind="withdrawal",
        sales=tuple((acc, symbol, s) for (acc, symbol, _), s in sales.items()),
        cash_used=dict(cash_used),
        distributions=dict(distributions),
        tax_cost=sum(p.tax_cost for p in parts),
        raised=sum(p.raised for p in parts),
        explanation=tuple(words) + tuple(line for p in parts for line in p.explanation),
        early_tax=dict(early),
        rmd_taken={k: v for p in parts[:owed_parts] for k, v in p.distributions.items()},
    )


def _plan(
    request: HouseholdRequest,
    *,
    amount: float,
    kind: str,
    account_id: str | None,
    birth_dates: Mapping[str, date] | None,
    sources_ids: tuple[str, ...] | None = None,
    taken_before: float = 0.0,
    asked: float | None = None,
) -> WithdrawalPlan:
    """One plan from one order of sources: ``sources_ids`` (an RMD owed) or those ``kind`` and
    ``account_id`` give. ``taken_before``: what earlier parts of the same withdrawal raised (the RMDs
    owed, ``_rmd_first``), and ``asked`` the whole withdrawal (None: ``amount``), so a refusal names
    the whole amount asked and all the household can raise."""
    securities = validate_household(request)
    accounts = {a.id: a for a in request.accounts}
    if sources_ids is not None:
        sources = [accounts[i] for i in sources_ids]
    elif kind == "rmd":
        if account_id is not None and accounts[account_id].tax_status != "traditional":
            raise InvalidRequest(
                f"a required minimum distribution comes from a traditional IRA; account {account_id} "
                f"is {accounts[account_id].tax_status}"
            )
        sources = (
            [accounts[account_id]]
            if account_id
            else [a for a in request.accounts if a.tax_status == "traditional"]
        )
        if not sources:
            raise InvalidRequest(
                f"household {request.household_id} has no traditional account to take an RMD from"
            )
    else:
        sources = [accounts[account_id]] if account_id else list(request.accounts)
    position = {a.id: k for k, a in enumerate(request.accounts)}
    early = {
        a.id
        for a in request.accounts
        if a.tax_status == "traditional"
        and (birth_dates or {}).get(a.id) is not None
        and request.as_of < age_59_and_a_half(birth_dates[a.id])
    }
    # The key of an account's place: its kind, then (traditional) an owner under 59½ last.
    place = {a.id: (_SOURCE_ORDER[a.tax_status], a.id in early, position[a.id]) for a in request.accounts}
    sources.sort(key=lambda a: place[a.id])

    eq = household_equivalence(request)
    window = household_window_trades(request)
    overweight = _overweight(request, securities)

    remaining = float(amount)
    cash_used: dict[str, float] = {}
    distributions: dict[str, float] = {}
    sales: list[tuple[str, str, LotSale]] = []
    explanation: list[str] = []
    skipped: list[str] = []
    candidates = []
    for a in sources:
        whole_account = a.request.parameters.trading.whole_shares
        taxable = a.tax_status == "taxable"
        account = a.request.account
        replaced = _replaced(request, window, eq, a) if taxable else None
        for lot in account.lots:
            if lot.quantity <= 0:
                continue
            sec = securities[lot.symbol]
            value = lot.quantity * sec.price
            long_ = is_long_term(lot.acquired, request.as_of)
            if taxable:
                gain = value - lot.cost_basis
                rate = account.long_term_rate if long_ else account.short_term_rate
                per_dollar = rate * gain / value if value > 0 else 0.0
                if gain < 0 and not a.request.parameters.wash_sale.allow and replaced(lot):
                    why = _bought_words(request, window, eq, lot.symbol)
                    skipped.append(f"lot {lot.id} of {lot.symbol} in {a.id} (a loss: {why})")
                    continue
                # The least tax per dollar raised first (a loss saves, so it comes first); at equal
                # tax, long-term first (its holding is not waiting to turn long-term).
                key = (*place[a.id][:2], per_dollar, 0 if long_ else 1, position[a.id], lot.id)
                basis = lot.cost_basis
            else:
                # No capital gain inside an IRA or Roth: the basis is the proceeds.
                key = (
                    *place[a.id][:2],
                    position[a.id],
                    -overweight.get(lot.symbol, 0.0),
                    lot.symbol,
                    lot.id,
                )
                basis = value
            candidates.append(
                _Candidate(
                    key,
                    a,
                    lot.id,
                    lot.symbol,
                    lot.quantity,
                    sec.price,
                    basis,
                    "long" if long_ else "short",
                    whole_account or not sec.fractional,
                )  # fmt: skip
            )
    candidates.sort(key=lambda c: c.key)
    chosen = _least_tax_dollars(candidates, sources, remaining)
    cash_taken = set()
    for k, c in enumerate(candidates):
        if remaining <= 1e-9:
            break
        tier = place[c.account.id][:2]
        # Cash first: each tier's cash before any of its lots.
        for a in sources:
            if place[a.id][:2] <= tier and a.id not in cash_taken:
                cash_taken.add(a.id)
                remaining = _take_cash(a, remaining, cash_used, distributions, explanation)
        if remaining <= 1e-9:
            break
        want = remaining if chosen is None or k not in chosen else min(chosen[k], remaining)
        qty = min(c.quantity, want / c.price)
        if c.whole:
            qty = min(c.quantity, math.ceil(qty - 1e-9))
        if qty <= 0:
            continue
        proceeds = qty * c.price
        basis = c.basis * qty / c.quantity
        gain = proceeds - basis if c.account.tax_status == "taxable" else 0.0
        sales.append((c.account.id, c.symbol, LotSale(c.lot_id, qty, proceeds, basis, gain, c.term)))
        distributions[c.account.id] = distributions.get(c.account.id, 0.0) + proceeds
        remaining -= proceeds
    for a in sources:
        if a.id not in cash_taken and remaining > 1e-9:
            cash_taken.add(a.id)
            remaining = _take_cash(a, remaining, cash_used, distributions, explanation)
    if remaining > 0.005:
        where = account_id or ("the traditional accounts" if kind == "rmd" else "the household")
        # What the sources hold, summed: ``amount - remaining`` is nothing in floating point when the
        # amount dwarfs them (1e300 less $80,000 is 1e300), and the refusal said "can raise only $0.00".
        raised = taken_before + math.fsum(distributions.values())
        asked = float(amount) + taken_before if asked is None else asked
        # A household can hold dozens of such lots: the message names the first few, the detail all.
        more = len(skipped) - NOT_SOLD_NAMED
        why = f"; not sold: {'; '.join(skipped[:NOT_SOLD_NAMED])}" if skipped else ""
        why += f"; and {more} more lot{'s' if more != 1 else ''} not sold for the same reason" if more > 0 else ""
        raise InvalidRequest(
            f"{where} can raise only {dollars(raised)} of the {dollars(asked)} asked{why}",
            {"amount": asked, "available": round(raised, 2), **({"not_sold": skipped} if skipped else {})},
        )
    if remaining < -1e-9 and sales:
        # Whole shares raised a little more than asked: the rest stays in the account as cash. Only
        # the amount leaves the household (and, from an IRA, only it is a distribution, taxed).
        last = sales[-1][0]
        distributions[last] += remaining
        explanation.append(f"{dollars(-remaining)} of the proceeds stay in {last} as cash (whole shares)")
    tax = 0.0
    early_tax: dict[str, float] = {}
    sales_tax = _sales_tax(request, sales)
    for a in sources:
        taken = distributions.get(a.id, 0.0)
        if a.tax_status == "traditional" and taken > 0:
            ordinary = distribution_rate(a.request.account)
            tax += ordinary * taken
            explanation.append(
                f"{dollars(taken)} out of {a.id} is taxed at {_percent(ordinary)} as ordinary income "
                f"(no {_percent(NIIT_RATE)} NIIT on IRA distributions, IRC §1411(c)(5))"
            )
            if a.id in early:
                early_tax[a.id] = EARLY_DISTRIBUTION_RATE * taken
                tax += early_tax[a.id]
                explanation.append(
                    f"and {dollars(early_tax[a.id])} of additional tax on an early distribution (10%, IRC §72(t)): "
                    f"the owner of {a.id} reaches 59½ on {age_59_and_a_half(birth_dates[a.id]):%d %B %Y}"
                )
        elif a.tax_status == "taxable":
            st = sum(s.gain for acc, _, s in sales if acc == a.id and s.term == "short")
            lt = sum(s.gain for acc, _, s in sales if acc == a.id and s.term == "long")
            if st or lt:
                t = sales_tax[a.id]
                tax += t
                explanation.append(sales_words(a.id, st, lt, t))
        elif a.tax_status == "roth" and taken > 0:
            # The product keeps no Roth basis or first-contribution year: the tax is counted as
            # nothing, and the words say when that holds rather than assert it.
            explanation.append(
                f"{dollars(taken)} out of {a.id}, a Roth IRA: counted tax-free, which holds for a qualified "
                "distribution (the owner 59½ or older and a Roth first funded five or more years ago, "
                "IRC §408A(d)(2)) and for a return of contributions; otherwise its earnings are "
                "ordinary income and, before 59½, bear the 10% additional tax, not estimated here"
            )
    for acc, symbol, s in sales:
        what = "a loss" if s.gain < 0 else ("a gain" if s.gain > 0 else "no gain")
        explanation.append(
            f"sell {s.quantity:g} {symbol} from lot {s.lot_id} in {acc} ({s.term}-term, {what})"
        )
    explanation.extend(f"not sold: {s}" for s in skipped)
    return WithdrawalPlan(
        amount=float(amount),
        kind=kind,
        sales=tuple(sales),
        cash_used=cash_used,
        distributions=distributions,
        tax_cost=tax,
        raised=float(amount) - remaining,
        explanation=tuple(explanation),
        early_tax=early_tax,
    )




def _least_tax_dollars(candidates: list[_Candidate], sources, amount: float) -> dict[int, float] | None:
    """Dollars to raise from each taxable candidate (by its index in ``candidates``) so that what
    the taxable accounts must raise from lots - ``amount`` less their cash - costs the least tax
    as Schedule D nets it; None when the order alone decides (no taxable lot, or all of them needed)
    or the accounts are on different returns (no one tax picture to minimise)."""
    taxable = [k for k, c in enumerate(candidates) if c.account.tax_status == "taxable"]
    if not taxable:
        return None
    accounts = {candidates[k].account.id: candidates[k].account.request.account for k in taxable}
    picture = {(x.short_term_rate, x.long_term_rate, tuple((r.id, r.share) for r in x.tax_returns) or x.id)
               for x in accounts.values()}
    if len(picture) > 1:
        return None
    need = amount - sum(max(a.request.account.cash, 0.0) for a in sources if a.tax_status == "taxable")
    if need <= 1e-9:
        return None
    value = np.array([candidates[k].quantity * candidates[k].price for k in taxable])
    basis = np.array([candidates[k].basis for k in taxable])
    per_dollar = np.divide(value - basis, value, out=np.zeros(len(taxable)), where=value > 0)
    long_ = np.array([candidates[k].term == "long" for k in taxable])
    least = least_tax_by_corners(np.zeros(len(taxable), dtype=np.int64), per_dollar, long_,
                                 np.arange(len(taxable), dtype=float), np.array([need]), value,
                                 RunTax.of(next(iter(accounts.values()))))
    if least is None:
        return None
    return {k: float(d) for k, d in zip(taxable, least[0].tolist(), strict=True)}


def _replaced(request: HouseholdRequest, window, eq, member: HouseholdAccount):
    """Whether a lot of the taxable ``member`` has a replacement in the household's 30 days: shares
    of its group bought there other than the lot's own purchase (Rev. Rul. 56-602; the purchases as
    the ledger takes them, ``window_activity``)."""
    account = member.request.account
    bought = window_activity(request.as_of, window, account.lots, eq, member.id, account.bought_on()).bought
    return lambda lot: sum(p.shares for p in bought if p.group == eq.group(lot.symbol) and lot.id not in p.lots) > 1e-9


def _bought_words(request: HouseholdRequest, window, eq, symbol: str) -> str:
    """Why a loss lot of ``symbol`` is not sold, naming the purchase that would wash it: the latest
    buy of its group in the household's 30 days (an open proposal's planned buy is dated today and
    has no lot of that day in its account)."""
    group = eq.group(symbol)
    buys = [t for t in window if t.side == "buy" and eq.group(t.symbol) == group]
    if not buys:
        return "the household bought it within 30 days"
    last = max(buys, key=lambda t: (t.date, t.account_id or ""))
    where = f" in {last.account_id}" if last.account_id else ""
    held = {
        (lot.symbol, lot.acquired)
        for a in request.accounts
        if a.id == last.account_id
        for lot in a.request.account.lots
    }
    if last.date == request.as_of and (last.symbol, last.date) not in held:
        return f"a trade the household plans buys {last.symbol}{where}: selling it at a loss would be a wash sale"
    return (
        f"the household bought {last.symbol}{where} on {last.date:%d %B %Y}, within 30 days: selling it "
        "at a loss would be a wash sale"
    )


def _take_cash(
    a: HouseholdAccount, remaining: float, cash_used: dict, distributions: dict, explanation: list
) -> float:
    take = min(max(a.request.account.cash, 0.0), remaining)
    if take <= 0 or remaining <= 1e-9:  # a float-noise remainder is not worth a second account's cash
        return remaining
    cash_used[a.id] = take
    distributions[a.id] = distributions.get(a.id, 0.0) + take
    explanation.append(f"{dollars(take)} from the cash of {a.id} ({a.tax_status})")
    return remaining - take


def _overweight(request: HouseholdRequest, securities: Mapping) -> dict[str, float]:
    """Symbol -> household value held above the model's (negative: below)."""
    weights = model_weights(request)
    held: dict[str, float] = {}
    total = 0.0
    for a in request.accounts:
        total += a.request.account.cash
        for lot in a.request.account.lots:
            v = lot.quantity * securities[lot.symbol].price
            held[lot.symbol] = held.get(lot.symbol, 0.0) + v
            total += v
    return {s: held.get(s, 0.0) - weights.get(s, 0.0) * total for s in set(held) | set(weights)}


def sales_words(account_id: str, short: float, long: float, tax: float) -> str:
    """What a plan's sales in one taxable account realise, net by term, and their tax: the line a plan's
    explanation (and its restatement from the ledger's figures) starts with "sales in <account> "."""
    return f"sales in {account_id} realise {dollars(short)} short-term and {dollars(long)} long-term (tax {dollars(tax)})"


def _sales_tax(request: HouseholdRequest, sales) -> dict[str, float]:
    """Each taxable account's tax on a plan's sales, in the household's account order, each netted
    after the accounts before it on the returns they share (``tax.runs_tax``)."""
    runs = []
    for a in request.accounts:
        if a.tax_status == "taxable":
            st = sum(s.gain for acc, _, s in sales if acc == a.id and s.term == "short")
            lt = sum(s.gain for acc, _, s in sales if acc == a.id and s.term == "long")
            runs.append((a.request.account, st, lt))
    return runs_tax(runs)


def household_after_plan(request: HouseholdRequest, plan: WithdrawalPlan) -> HouseholdRequest:
    """The household as it will be once ``plan`` is carried out: each lot it sells relieved (its basis
    pro rata, emptied lots gone), the cash it takes gone (the proceeds come in and go out again, but
    for what whole shares raised beyond the amount), and
    its gains realised in the year of the taxable accounts - the book on which a second withdrawal is
    planned while the first's sales wait, so that the two never count the same lot, dollar or gain.
    A lot that no longer holds what the plan sells (changed since) is emptied, never made negative."""
    sold: dict[tuple[str, str], float] = defaultdict(float)
    gains: dict[str, dict[str, float]] = defaultdict(lambda: {"short": 0.0, "long": 0.0})
    proceeds: dict[str, float] = defaultdict(float)
    for account_id, _, sale in plan.sales:
        sold[account_id, sale.lot_id] += sale.quantity
        gains[account_id][sale.term] += sale.gain
        proceeds[account_id] += sale.proceeds
    # The gains land on the returns too, where every account of a return sees them (its year so far).
    on_returns: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for member in request.accounts:
        if member.request.account.id in gains:
            g = gains[member.request.account.id]
            for rid, (short, long) in realised_on_returns(member.request.account, g["short"], g["long"]).items():
                on_returns[rid][0] += short
                on_returns[rid][1] += long
    realised = {rid: (v[0], v[1]) for rid, v in on_returns.items()}
    accounts = []
    for member in request.accounts:
        account = member.request.account
        if account.tax_returns and any(r.id in realised for r in account.tax_returns):
            account = replace(account, tax_returns=returns_after(account.tax_returns, realised))
            member = replace(member, request=replace(member.request, account=account))
        touched = account.id in plan.distributions or account.id in gains
        if not touched:
            accounts.append(member)
            continue
        lots = []
        for lot in account.lots:
            left = lot.quantity - sold.get((account.id, lot.id), 0.0)
            if left <= 1e-9 * max(lot.quantity, 1.0):
                continue
            if left < lot.quantity:
                lot = TaxLot(lot.id, lot.symbol, left, lot.cost_basis * left / lot.quantity, lot.acquired)
            lots.append(lot)
        after = replace(
            account,
            lots=tuple(lots),
            # The proceeds come in, the distribution goes out: what whole shares raised beyond it stays.
            cash=max(account.cash + proceeds[account.id] - plan.distributions.get(account.id, 0.0), 0.0),
            # A plan's gain is nought outside a taxable account (the proceeds are its basis).
            realised_short_term_ytd=account.realised_short_term_ytd + gains[account.id]["short"],
            realised_long_term_ytd=account.realised_long_term_ytd + gains[account.id]["long"],
        )
        accounts.append(replace(member, request=replace(member.request, account=after)))
    return replace(request, accounts=tuple(accounts))
