"""The withdrawal chooser: worked examples and a simple second implementation over random households."""

import calendar
import math
import random
from datetime import date, timedelta

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rebalancing.engine import (
    CashParams,
    HouseholdTrade,
    InvalidRequest,
    Model,
    Parameters,
    Security,
    Sleeve,
    TradingParams,
    plan_withdrawal,
    withdrawal_plan_from_dict,
    withdrawal_plan_to_dict,
)
from rebalancing.engine.tax import incremental_tax
from rebalancing.engine.withdrawal import age_59_and_a_half

from .builders import AS_OF
from .household_builders import household, lot, member
from .test_least_tax_relief import _least_tax_by_lp

RECENT = AS_OF - timedelta(days=100)  # short-term
OLD = AS_OF - timedelta(days=800)  # long-term


def sample_household(**kw):
    taxable = member(
        "TAX",
        "taxable",
        [
            lot("gain_long", "EQ", 10, 500, OLD),  # 1,000 value, +500 long
            lot("gain_short", "EQ", 10, 900, RECENT),  # +100 short
            lot("loss_long", "BD", 20, 1_200, OLD),  # 1,000 value, -200 long
        ],
        cash=300,
    )
    ira = member("IRA", "traditional", [lot("i1", "EQ", 20, 1_000, OLD)], cash=500, short_term_rate=0.32)
    roth = member("ROTH", "roth", [lot("r1", "BD", 10, 400, OLD)], cash=100)
    return household(taxable, ira, roth, **kw)


def test_cash_first_then_losses_then_the_least_tax_per_dollar():
    plan = plan_withdrawal(sample_household(), amount=1_800.0)
    assert plan.cash_used == {"TAX": 300.0}
    assert [(a, s.lot_id, s.quantity) for a, _, s in plan.sales] == [
        ("TAX", "loss_long", 20.0),  # 1,000 of bonds at a loss first
        # then 500 from the short-term lot: +100 on 1,000 at 37% is 3.7 cents a dollar, the
        # long-term lot's +500 on 1,000 at 20% is 10 (until 2026-12-06 every long-term gain came first)
        ("TAX", "gain_short", 5.0),
    ]
    # Tax: +50 short-term and -200 long-term net to a 150 loss, deducted from ordinary income at 37%.
    assert plan.tax_cost == pytest.approx(-0.37 * 150)


def test_at_equal_gains_a_long_term_lot_goes_before_a_short_term_one():
    taxable = member("TAX", "taxable", [lot("short", "EQ", 10, 800, RECENT), lot("long", "EQ", 10, 800, OLD)])
    plan = plan_withdrawal(household(taxable), amount=500.0)
    assert [s.lot_id for _, _, s in plan.sales] == ["long"]


def test_a_short_term_lot_without_gain_goes_before_a_long_term_lot_with_a_large_gain():
    # The audit's case, scaled: 300,000 asked; VOO long-term at +26% of its value, DBC bought this
    # year at no gain. Before 2026-12-06 VOO went first (every long-term gain before any short-term
    # lot): +78,886.62 realised where DBC's 45,005 would have raised part of it at no tax.
    securities = (Security("VOO", 600.0, "us_equity"), Security("DBC", 22.5, "commodities"))
    model = Model("m", (Sleeve("us_equity", 0.9, {"VOO": 1.0}), Sleeve("commodities", 0.1, {"DBC": 1.0})))
    taxable = member(
        "JT", "taxable",
        [lot("voo", "VOO", 1_000, 444_000, OLD), lot("dbc", "DBC", 2_000, 45_000, RECENT)],
        securities=securities, model=model,
    )
    plan = plan_withdrawal(household(taxable, securities=securities, model=model), amount=300_000.0)
    assert [s.lot_id for _, _, s in plan.sales] == ["dbc", "voo"]
    voo = plan.sales[1][2]
    assert voo.quantity == math.ceil((300_000 - 45_000) / 600)
    assert voo.gain == pytest.approx(425 * 156)
    assert plan.tax_cost == pytest.approx(0.2 * 425 * 156)  # 13,260; VOO first: 0.2 x 500 x 156 = 15,600


def _least_tax_by_brute_force(lots, prices, amount, rates):
    """The least tax of any way to raise ``amount`` from whole lots and one part of another (gains
    only, so the tax is each lot's rate x its gain, and a fraction of a lot raises its fraction)."""
    best = math.inf
    n = len(lots)
    for mask in range(1 << n):
        whole = [x for k, x in enumerate(lots) if mask >> k & 1]
        raised = sum(x.quantity * prices[x.symbol] for x in whole)
        tax = sum(rates[x.id] * (x.quantity * prices[x.symbol] - x.cost_basis) for x in whole)
        if raised >= amount - 1e-9:
            best = min(best, tax)
            continue
        for k, x in enumerate(lots):
            if mask >> k & 1:
                continue
            value = x.quantity * prices[x.symbol]
            if raised + value >= amount:
                part = (amount - raised) / value
                best = min(best, tax + part * rates[x.id] * (value - x.cost_basis))
    return best


@pytest.mark.parametrize("seed", range(60))
def test_the_plan_pays_the_least_tax_of_any_choice_of_lots_over_random_books(seed):
    rng = random.Random(seed)
    prices = {s: float(rng.randint(20, 200)) for s in ("EQ", "BD", "RE")}
    securities = tuple(Security(s, p, "equity") for s, p in prices.items())
    lots = []
    for k in range(rng.randint(2, 6)):
        symbol = rng.choice(sorted(prices))
        qty = rng.randint(1, 40)
        value = qty * prices[symbol]
        lots.append(lot(f"L{k}", symbol, qty, round(value * rng.uniform(0.3, 1.0), 2),
                        AS_OF - timedelta(days=rng.randint(10, 1500))))
    params = Parameters(cash=CashParams(target=0.0), trading=TradingParams(whole_shares=False))
    taxable = member("TAX", "taxable", lots, securities=securities, parameters=params)
    rates = {x.id: 0.2 if _held_over_a_year(x.acquired) else 0.37 for x in lots}
    total = sum(x.quantity * prices[x.symbol] for x in lots)
    amount = round(total * rng.uniform(0.05, 0.95), 2)
    plan = plan_withdrawal(household(taxable, securities=securities), amount=amount)
    assert plan.tax_cost == pytest.approx(_least_tax_by_brute_force(lots, prices, amount, rates), abs=0.01)


def test_an_rmd_comes_from_the_ira_and_is_taxed_as_ordinary_income():
    plan = plan_withdrawal(sample_household(), amount=1_000.0, kind="rmd", account_id="IRA")
    assert plan.cash_used == {"IRA": 500.0}
    assert [(a, s.lot_id, s.quantity, s.gain) for a, _, s in plan.sales] == [("IRA", "i1", 5.0, 0.0)]
    assert plan.tax_cost == pytest.approx(0.32 * 1_000)


def test_an_ira_distribution_is_taxed_at_the_ordinary_rate_without_the_niit_and_says_so():
    # IRC §408(d)(1): ordinary income; §1411(c)(5): not net investment income. The taxable account of
    # the top bracket carries 40.8% (37% + 3.8% NIIT) on its gains, the IRA 37%, the rate its
    # distributions are taxed at: a $10,000 RMD bears $3,700, not $4,080
    taxable = member("TAX", "taxable", [lot("t1", "EQ", 10, 500, OLD)], cash=0, short_term_rate=0.408,
                     long_term_rate=0.238)
    ira = member("IRA", "traditional", [lot("i1", "EQ", 200, 10_000, OLD)], cash=10_000, short_term_rate=0.37,
                 long_term_rate=0.20)
    plan = plan_withdrawal(household(taxable, ira), amount=10_000.0, kind="rmd", account_id="IRA")
    assert plan.tax_cost == pytest.approx(3_700.0)
    assert ("$10,000.00 out of IRA is taxed at 37% as ordinary income (no 3.8% NIIT on IRA distributions, "
            "IRC §1411(c)(5))") in plan.explanation
    # A rate with a tenth of a percent is shown as it is (40.8%, not 41%)
    other = member("IRA", "traditional", [], cash=1_000, short_term_rate=0.408)
    assert any("taxed at 40.8% as ordinary income" in line
               for line in plan_withdrawal(household(other), amount=100.0, kind="rmd").explanation)


def test_a_roth_distribution_is_counted_tax_free_and_the_plan_says_when_that_holds():
    plan = plan_withdrawal(sample_household(), amount=100.0, account_id="ROTH")
    assert plan.cash_used == {"ROTH": 100.0} and plan.tax_cost == 0.0
    [said] = [line for line in plan.explanation if "ROTH" in line and "Roth IRA" in line]
    # Not asserted as qualified: the product keeps no Roth basis nor the year it was first funded.
    assert "qualified distribution (the owner 59½ or older and a Roth first funded five or more years ago" in said
    assert "IRC §408A(d)(2)" in said and "10% additional tax, not estimated here" in said


def test_an_ira_whose_owner_is_under_59_and_a_half_is_drawn_after_the_others_and_bears_the_10_percent():
    young = member("IRA-Y", "traditional", [lot("y1", "EQ", 20, 1_000, OLD)], cash=400, short_term_rate=0.32)
    old = member("IRA-O", "traditional", [lot("o1", "EQ", 5, 250, OLD)], cash=100, short_term_rate=0.32)
    taxable = member("TAX", "taxable", [], cash=200)
    request = household(taxable, young, old)  # the young owner's IRA listed first
    born = {"IRA-Y": date(1970, 3, 3), "IRA-O": date(1950, 3, 3)}
    plan = plan_withdrawal(request, amount=1_000.0, birth_dates=born)
    # The taxable cash, then the older owner's IRA - cash, then lots - and only then the young one's.
    assert plan.cash_used == {"TAX": 200.0, "IRA-O": 100.0, "IRA-Y": 200.0}
    assert [(a, s.lot_id, s.quantity) for a, _, s in plan.sales] == [("IRA-O", "o1", 5.0)]
    assert plan.early_tax == {"IRA-Y": pytest.approx(20.0)}
    assert plan.tax_cost == pytest.approx(0.32 * 800 + 0.10 * 200)
    assert any("IRC §72(t)" in line and "3 September 2029" in line for line in plan.explanation)
    assert withdrawal_plan_from_dict(withdrawal_plan_to_dict(plan)).early_tax == {"IRA-Y": 20.0}
    # Without dates of birth the household's order is kept and no extra tax is assumed.
    blind = plan_withdrawal(request, amount=1_000.0)
    assert blind.cash_used == {"TAX": 200.0, "IRA-Y": 400.0, "IRA-O": 100.0} and blind.early_tax == {}


@pytest.mark.parametrize(("born", "reached"), [
    (date(1965, 12, 31), date(2025, 6, 30)),  # no 31 June: the month's last day (AS_OF: no extra tax)
    (date(1966, 1, 1), date(2025, 7, 1)),
    (date(1966, 8, 31), date(2026, 2, 28)),
    (date(1968, 8, 31), date(2028, 2, 29)),
    (date(1966, 8, 30), date(2026, 2, 28)),
    (date(1966, 2, 28), date(2025, 8, 28)),
])
def test_59_and_a_half_is_six_calendar_months_after_the_59th_birthday(born, reached):
    assert age_59_and_a_half(born) == reached
    assert reached_59_and_a_half(born, reached) and not reached_59_and_a_half(born, reached - timedelta(days=1))
    ira = member("IRA", "traditional", [], cash=1_000, short_term_rate=0.3)
    plan = plan_withdrawal(household(ira), amount=100.0, birth_dates={"IRA": born})
    assert plan.early_tax == ({} if reached <= AS_OF else {"IRA": pytest.approx(10.0)})


def test_a_loss_lot_bought_again_within_30_days_elsewhere_is_not_sold():
    # BD bought in the Roth 10 days ago: selling the taxable BD at a loss would wash it.
    buy = HouseholdTrade(AS_OF - timedelta(days=10), "BD", "buy", 5.0, None, "ROTH")
    request = sample_household()
    roth = request.accounts[2]
    acct = roth.request.account
    roth = type(roth)(
        type(roth.request)(roth.request.as_of, type(acct)(**{**_fields(acct), "household_trades": (buy,)}),
                           roth.request.securities, roth.request.model, roth.request.parameters),
        "roth",
    )  # fmt: skip
    request = household(request.accounts[0], request.accounts[1], roth)
    plan = plan_withdrawal(request, amount=800.0)
    assert all(s.lot_id != "loss_long" for _, _, s in plan.sales)
    assert any("loss_long" in line and "not sold" in line for line in plan.explanation)
    # The words name the purchase that would wash it: its account and its day.
    day = f"{AS_OF - timedelta(days=10):%d %B %Y}"
    assert any(f"the household bought BD in ROTH on {day}" in line for line in plan.explanation), plan.explanation


def test_a_loss_lot_an_open_proposal_buys_today_is_named_as_a_planned_trade():
    planned = HouseholdTrade(AS_OF, "BD", "buy", 5.0, None, "IRA")  # a standing proposal's buy
    request = sample_household()
    taxable = request.accounts[0]
    acct = taxable.request.account
    taxable = type(taxable)(
        type(taxable.request)(taxable.request.as_of, type(acct)(**{**_fields(acct), "household_trades": (planned,)}),
                              taxable.request.securities, taxable.request.model, taxable.request.parameters),
        "taxable",
    )  # fmt: skip
    plan = plan_withdrawal(household(taxable, *request.accounts[1:]), amount=800.0)
    assert any("a trade the household plans buys BD in IRA" in line for line in plan.explanation), plan.explanation


def _fields(obj):
    return {name: getattr(obj, name) for name in obj.__slots__}


def test_bad_withdrawals_are_refused():
    request = sample_household()
    with pytest.raises(InvalidRequest, match="positive number"):
        plan_withdrawal(request, amount=-5)
    with pytest.raises(InvalidRequest, match="traditional IRA"):
        plan_withdrawal(request, amount=10, kind="rmd", account_id="ROTH")
    with pytest.raises(InvalidRequest, match="can raise only"):
        plan_withdrawal(request, amount=1e7)
    with pytest.raises(InvalidRequest, match="not in household"):
        plan_withdrawal(request, amount=10, account_id="NOPE")


def test_withdrawal_plan_round_trips_through_json():
    plan = plan_withdrawal(sample_household(), amount=2_345.0)
    data = withdrawal_plan_to_dict(plan)
    assert withdrawal_plan_to_dict(withdrawal_plan_from_dict(data)) == data


# A second, deliberately simple implementation of the documented order.
TIER = {"taxable": 0, "traditional": 1, "roth": 2}


def reached_59_and_a_half(born, day):
    """Whole months since birth, and the day of the month (a 31st birthday-day is met at a shorter month's end)."""
    months = (day.year - born.year) * 12 + day.month - born.month
    month_end = day.day == calendar.monthrange(day.year, day.month)[1]
    return months > 59 * 12 + 6 or (months == 59 * 12 + 6 and (day.day >= born.day or month_end))


def reference_plan(request, amount, kind, account_id, born=None):
    prices = {s.symbol: s.price for s in request.securities}
    # An IRA whose owner is under 59½ comes after the others (its distribution bears 10% more).
    tier = {a.id: TIER[a.tax_status] + (0.5 if a.id in (born or {}) and not reached_59_and_a_half(born[a.id], AS_OF)
                                        else 0) for a in request.accounts}
    if kind == "rmd":
        sources = [
            a for a in request.accounts if a.tax_status == "traditional" and account_id in (None, a.id)
        ]
    else:
        sources = [a for a in request.accounts if account_id in (None, a.id)]
    # Purchases of the 30 days: each trade, and each lot bought then (one account's lots of a day
    # are one purchase); a lot's own purchase is not its replacement (Rev. Rul. 56-602).
    purchases = [(t.symbol, None) for a in request.accounts for t in a.request.account.household_trades
                 if t.side == "buy" and 0 <= (AS_OF - t.date).days <= 30]
    purchases += [(x.symbol, (a.id, x.acquired)) for a in request.accounts for x in a.request.account.lots
                  if 0 <= (AS_OF - x.acquired).days <= 30]

    def replaced(a, x):
        return any(symbol == x.symbol and own != (a.id, x.acquired) for symbol, own in purchases)
    steps = []  # (sort key, account, lot or None); a taxable lot listed is one it may sell
    for k, a in enumerate(request.accounts):
        if a not in sources:
            continue
        steps.append(((tier[a.id], -1, 0, 0.0, k, ""), a, None))
        for x in a.request.account.lots:
            value = x.quantity * prices[x.symbol]
            if a.tax_status == "taxable":
                gain = value - x.cost_basis
                long_ = _held_over_a_year(x.acquired)
                if gain < 0 and replaced(a, x):
                    continue
                rate = a.request.account.long_term_rate if long_ else a.request.account.short_term_rate
                # The least tax per dollar raised first; at equal tax, long-term first.
                steps.append(((0, 0, rate * gain / value, 0 if long_ else 1, k, x.id), a, x))
            else:
                steps.append(((tier[a.id], k, 0, 0.0, 0, ""), a, x))
    steps.sort(key=lambda s: s[0])
    remaining = amount
    taken = []
    for _, a, x in steps:
        if remaining <= 1e-9:
            break
        if x is None:
            cash = min(a.request.account.cash, remaining)
            if cash > 0:
                taken.append((a.id, None, cash))
                remaining -= cash
            continue
        qty = min(x.quantity, remaining / prices[x.symbol])
        qty = min(x.quantity, math.ceil(qty - 1e-9))  # whole shares in these households
        taken.append((a.id, x, qty))
        remaining -= qty * prices[x.symbol]
    sellable = [(a.id, x) for _, a, x in steps if x is not None and a.tax_status == "taxable"]
    return taken, remaining, sellable


SYMBOLS = ("EQ", "EQ2", "BD", "BD2")


@st.composite
def households(draw):
    prices = {s: float(draw(st.integers(20, 200))) for s in SYMBOLS}
    securities = tuple(Security(s, prices[s], "bonds" if s.startswith("BD") else "equity") for s in SYMBOLS)
    members = []
    statuses = draw(st.lists(st.sampled_from(["taxable", "traditional", "roth"]), min_size=1, max_size=4))
    for k, status in enumerate(statuses):
        lots = []
        for n in range(draw(st.integers(0, 4))):
            symbol = draw(st.sampled_from(SYMBOLS))
            qty = draw(st.integers(1, 40))
            basis = round(qty * prices[symbol] * draw(st.floats(0.5, 1.5)), 2)
            # (a quarter of them bought in the last 30 days: purchases that may wash a loss, or not)
            acquired = AS_OF - timedelta(days=draw(st.one_of(st.integers(1, 1500), st.integers(1, 30))))
            lots.append(lot(f"A{k}L{n}", symbol, qty, basis, acquired))
        trades = tuple(  # (1.5 shares: never a lot's own purchase, whose shares are whole here)
            HouseholdTrade(
                AS_OF - timedelta(days=draw(st.integers(0, 90))), draw(st.sampled_from(SYMBOLS)), "buy", 1.5
            )
            for _ in range(draw(st.integers(0, 1)))
        )
        cash = float(draw(st.integers(0, 1_000)))
        if not lots and cash == 0:
            cash = 100.0
        members.append(
            member(f"A{k}", status, lots, cash=cash, securities=securities, household_trades=trades)
        )
    born = {m.id: draw(st.dates(date(1940, 1, 1), date(1990, 12, 31))) for m in members
            if m.tax_status == "traditional" and draw(st.booleans())}
    return household(*members, securities=securities), draw(st.floats(10, 8_000)), born


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(households(), st.sampled_from(["withdrawal", "rmd"]))
def test_the_chooser_agrees_with_a_simple_second_implementation(case, kind):
    request, amount, born = case
    expected, short, sellable = reference_plan(request, amount, kind, None, born)
    try:
        plan = plan_withdrawal(request, amount=amount, kind=kind, birth_dates=born)
    except InvalidRequest:
        assert short > 0.005 or (
            kind == "rmd" and not any(a.tax_status == "traditional" for a in request.accounts)
        )
        return
    assert short <= 0.005
    got_cash = sorted(plan.cash_used.items())
    want_cash = sorted((a, v) for a, x, v in expected if x is None)
    assert [a for a, _ in got_cash] == [a for a, _ in want_cash]
    assert [v for _, v in got_cash] == pytest.approx([v for _, v in want_cash])
    got_lots = [(a, s.lot_id, s.quantity) for a, _, s in plan.sales]
    want_lots = [(a, x.id, q) for a, x, q in expected if x is not None]
    # IRA lots may be taken in another order (no tax either way). The taxable lots of one account
    # (one tax picture) cost the least tax of any choice, as Schedule D nets them, up to the whole
    # shares rounded up; several taxable accounts with lots to sell, each its own return, follow the
    # order exactly. A taxable account with no lot it may sell (cash only) adds nothing to net: one
    # other account with lots is still one tax picture.
    taxable_ids = {a.id for a in request.accounts if a.tax_status == "taxable"}
    got_taxable = [t for t in got_lots if t[0] in taxable_ids]
    want_taxable = [t for t in want_lots if t[0] in taxable_ids]
    with_lots = {a for a, _ in sellable}
    if len(with_lots) == 1 and kind == "withdrawal":
        [taxable] = [a for a in request.accounts if a.id in with_lots]
        least, rounding = _least_taxable_tax(request, taxable, expected, sellable)
        assert _taxable_tax(plan, taxable) == pytest.approx(least, abs=rounding + 0.01)
    else:
        assert got_taxable == want_taxable
    assert (
        sum(q * _price(request, a, i) for a, i, q in got_lots) + sum(plan.cash_used.values())
        >= amount - 0.005
    )
    # What leaves the household is the amount asked, whatever whole shares raised.
    assert sum(plan.distributions.values()) == pytest.approx(amount, abs=0.005)
    # Tax: capital gains per taxable account, ordinary income on every traditional dollar.
    tax = 0.0
    for a in request.accounts:
        out = plan.distributions.get(a.id, 0.0)
        if a.tax_status == "traditional":
            early = a.id in born and not reached_59_and_a_half(born[a.id], AS_OF)
            tax += (a.request.account.short_term_rate + 0.10 * early) * out
        elif a.tax_status == "taxable":
            st_ = sum(s.gain for acc, _, s in plan.sales if acc == a.id and s.term == "short")
            lt_ = sum(s.gain for acc, _, s in plan.sales if acc == a.id and s.term == "long")
            acct = a.request.account
            tax += incremental_tax(0.0, 0.0, st_, lt_, acct.short_term_rate, acct.long_term_rate)
    assert plan.tax_cost == pytest.approx(tax, abs=0.01)
    if kind == "rmd":
        assert all(
            next(a for a in request.accounts if a.id == acc).tax_status == "traditional"
            for acc, _, _ in plan.sales
        )


def _taxable_tax(plan, member):
    acct = member.request.account
    st_ = sum(s.gain for acc, _, s in plan.sales if acc == member.id and s.term == "short")
    lt_ = sum(s.gain for acc, _, s in plan.sales if acc == member.id and s.term == "long")
    return incremental_tax(0.0, 0.0, st_, lt_, acct.short_term_rate, acct.long_term_rate)


def _least_taxable_tax(request, member, expected, sellable):
    """The least tax of any fractional choice of ``member``'s ``sellable`` lots raising what the
    reference took from them (a linear programme per piece of Schedule D, ``test_least_tax_relief``),
    and how much rounding a partly sold lot up to a whole share can move it (two shares' gains at
    the top rate)."""
    prices = {s.symbol: s.price for s in request.securities}
    need = sum(q * prices[x.symbol] for a, x, q in expected if a == member.id and x is not None)
    lots = [x for a, x in sellable if a == member.id]
    if not lots or need <= 0:
        return 0.0, 0.0
    value = np.array([x.quantity * prices[x.symbol] for x in lots])
    gain = (value - np.array([x.cost_basis for x in lots])) / value
    long_ = np.array([_held_over_a_year(x.acquired) for x in lots])
    acct = member.request.account
    least = _least_tax_by_lp(np.zeros(len(lots), dtype=int), gain, long_, np.array([min(need, float(value.sum()))]),
                             value, (0.0, 0.0), [(0.0, 0.0, 1.0, acct.ordinary_loss_limit)],
                             (acct.short_term_rate, acct.long_term_rate))
    per_share = sorted((abs(g * prices[x.symbol]) for g, x in zip(gain, lots, strict=True)), reverse=True)
    return least, max(acct.short_term_rate, acct.long_term_rate) * sum(per_share[:2])


def _held_over_a_year(acquired):
    """Pub. 550, Rev. Rul. 66-7: counted from the day after the acquisition, long-term from the same
    (month, day) a year later (a count begun on 29 February: from 1 March of a common year)."""
    start = acquired + timedelta(days=1)
    return (AS_OF.year, AS_OF.month, AS_OF.day) >= (start.year + 1, start.month, start.day)


def _price(request, account_id, lot_id):
    account = next(a for a in request.accounts if a.id == account_id)
    symbol = next(x.symbol for x in account.request.account.lots if x.id == lot_id)
    return next(s.price for s in request.securities if s.symbol == symbol)


def test_a_float_noise_remainder_takes_no_second_accounts_cash():
    # Found by the property test: 10.000000000000002 asked, 10 of cash in the first IRA.
    first = member("IRA1", "traditional", cash=10.0)
    second = member("IRA2", "traditional", cash=50.0)
    plan = plan_withdrawal(household(first, second), amount=10.000000000000002, kind="rmd")
    assert plan.cash_used == {"IRA1": 10.0}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(households(), st.floats(10, 8_000), st.sampled_from(["withdrawal", "rmd"]))
def test_a_second_plan_on_the_household_after_the_first_never_counts_a_lot_or_dollar_twice(case, second, kind):
    """Two withdrawals in a row: the second made on ``household_after_plan`` of the first. A plain
    ledger of what each lot and account holds says neither may take more than is there, and the
    book after the first is the book less what it sells and takes."""
    from rebalancing.engine import household_after_plan

    request, amount, born = case
    try:
        first = plan_withdrawal(request, amount=amount, kind="withdrawal", birth_dates=born)
    except InvalidRequest:
        return
    after = household_after_plan(request, first)
    held = {(a.id, x.id): (x.quantity, x.cost_basis) for a in request.accounts for x in a.request.account.lots}
    left = dict(held)
    for account_id, _, sale in first.sales:
        q, basis = left[account_id, sale.lot_id]
        left[account_id, sale.lot_id] = (q - sale.quantity, basis * (q - sale.quantity) / q)
    want = {k: v for k, v in left.items() if v[0] > 1e-9 * max(held[k][0], 1.0)}
    got = {(a.id, x.id): (x.quantity, x.cost_basis) for a in after.accounts for x in a.request.account.lots}
    assert got.keys() == want.keys()
    for k, (q, basis) in want.items():
        assert got[k] == pytest.approx((q, basis), rel=1e-9, abs=1e-9)
    for a, b in zip(request.accounts, after.accounts, strict=True):
        proceeds = sum(s.proceeds for acc, _, s in first.sales if acc == a.id)
        left = a.request.account.cash + proceeds - first.distributions.get(a.id, 0)  # whole shares' excess stays
        assert b.request.account.cash == pytest.approx(max(left, 0))
        st_ = sum(s.gain for acc, _, s in first.sales if acc == a.id and s.term == "short")
        assert b.request.account.realised_short_term_ytd == pytest.approx(a.request.account.realised_short_term_ytd + st_)
    try:
        then = plan_withdrawal(after, amount=second, kind=kind, birth_dates=born)
    except InvalidRequest:
        return
    taken: dict = {}
    for account_id, _, sale in (*first.sales, *then.sales):
        taken[account_id, sale.lot_id] = taken.get((account_id, sale.lot_id), 0.0) + sale.quantity
    assert all(q <= held[k][0] + 1e-9 for k, q in taken.items())
    for a in request.accounts:
        both = first.cash_used.get(a.id, 0.0) + then.cash_used.get(a.id, 0.0)
        excess = sum(s.proceeds for acc, _, s in first.sales if acc == a.id) - (
            first.distributions.get(a.id, 0.0) - first.cash_used.get(a.id, 0.0))
        assert both <= a.request.account.cash + excess + 1e-6  # the first's excess is cash the second may take


def test_what_whole_shares_raise_beyond_the_amount_stays_in_the_account_and_is_not_a_distribution():
    ira = member("IRA", "traditional", [lot("i1", "EQ", 20, 1_000, OLD)], cash=0, short_term_rate=0.32)
    request = household(ira)  # EQ at 100 a share, whole shares: 1,050 asked raises 1,100
    plan = plan_withdrawal(request, amount=1_050.0, kind="rmd", account_id="IRA")
    assert [(s.lot_id, s.quantity) for _, _, s in plan.sales] == [("i1", 11.0)]
    assert plan.raised == pytest.approx(1_100.0) and plan.distributions == {"IRA": pytest.approx(1_050.0)}
    assert plan.tax_cost == pytest.approx(0.32 * 1_050)  # only what left the IRA is ordinary income
    assert "$50.00 of the proceeds stay in IRA as cash (whole shares)" in plan.explanation


def test_beside_a_taxable_account_of_cash_only_the_other_sells_the_lots_of_least_tax_not_the_order():
    # Found by the property test (two taxable accounts, one holding only cash). $101 asked, $100 of
    # cash in TAX1; TAX2 holds two EQ shares at $100, one bought 100 days ago for $137.50 (a $37.50
    # short-term loss), one long ago for $150 (a $50 long-term loss). At each lot's own rate the
    # short-term loss saves more a dollar (37% x 37.5% = 13.9 cents, against 20% x 50% = 10), but
    # with no gain to offset either is a net capital loss deducted from ordinary income at 37% (IRC
    # §1211(b), Pub. 550): the long-term share saves $18.50, the short-term one $13.88. One account
    # sells, so one tax picture: the least tax, as for a household with one taxable account.
    cash_only = member("TAX1", "taxable", [], cash=100)
    with_lots = member("TAX2", "taxable", [lot("short", "EQ", 1, 137.5, RECENT), lot("long", "EQ", 1, 150, OLD)])
    plan = plan_withdrawal(household(cash_only, with_lots), amount=101.0)
    assert plan.cash_used == {"TAX1": 100.0}
    assert [(a, s.lot_id, s.quantity, s.gain) for a, _, s in plan.sales] == [("TAX2", "long", 1.0, -50.0)]
    assert plan.tax_cost == pytest.approx(-0.37 * 50)
    assert plan == plan_withdrawal(household(with_lots, cash_only), amount=101.0)  # whichever is listed first


def test_a_short_term_loss_nets_against_a_short_term_gain_before_a_long_term_one():
    # Schedule D: a short-term loss sold beside a long-term gain saves only the long-term rate on
    # what it offsets (Pub. 550). Rates 37% / 20%, every price 100, 2,000 to raise from three lots:
    # A -1,000 short-term; B +500 long-term (10 cents a dollar at its own rate); C +300 short-term
    # (11.1 cents). The order alone sold A and B: a 500 net loss, -185. A and C net to a 700
    # short-term loss deducted at 37%: -259.
    securities = (Security("EQ", 100.0, "equity"), Security("BD", 100.0, "bonds"), Security("RE", 100.0, "real_estate"))
    taxable = member("TAX", "taxable", [lot("A", "RE", 10, 2_000, RECENT), lot("B", "EQ", 10, 500, OLD),
                                        lot("C", "BD", 10, 700, RECENT)], securities=securities)
    plan = plan_withdrawal(household(taxable, securities=securities), amount=2_000.0)
    assert sorted((s.lot_id, s.quantity) for _, _, s in plan.sales) == [("A", 10.0), ("C", 10.0)]
    assert plan.tax_cost == pytest.approx(-259.0)


def test_a_gain_absorbed_by_the_years_loss_is_taken_at_that_losss_rate():
    # A 10,000 long-term loss realised this year: a 10,000 short-term gain nets against it to nothing
    # (tax 0 beyond the deduction already counted), where a 12,000 long-term gain leaves 2,000 net
    # long-term gain taxed and gives up the 3,000 deduction: 20,000 to raise from either.
    securities = (Security("EQ", 100.0, "equity"), Security("BD", 100.0, "bonds"))
    taxable = member("TAX", "taxable", [lot("LT", "EQ", 200, 8_000, OLD), lot("ST", "BD", 200, 10_000, RECENT)],
                     securities=securities, realised_long_term_ytd=-10_000.0)
    plan = plan_withdrawal(household(taxable, securities=securities), amount=20_000.0)
    assert [(s.lot_id, s.quantity) for _, _, s in plan.sales] == [("ST", 200.0)]
    assert plan.tax_cost == pytest.approx(0.37 * 3_000)  # the 3,000 deduction the year no longer takes
    assert plan.tax_cost == pytest.approx(incremental_tax(0.0, -10_000.0, 10_000.0, 0.0, 0.37, 0.20))


def test_a_loss_lot_bought_in_the_window_is_sold_when_nothing_else_was_bought():
    # Rev. Rul. 56-602: the lot's own purchase is not its replacement. Bought 10 days ago for 1,500,
    # worth 1,000: selling it is a 500 short-term loss, no wash sale (it was refused before).
    recent = AS_OF - timedelta(days=10)
    securities = (Security("EQ", 100.0, "equity"), Security("BD", 100.0, "bonds"))
    alone = member("TAX", "taxable", [lot("new", "EQ", 10, 1_500, recent)], securities=securities)
    plan = plan_withdrawal(household(alone, securities=securities), amount=1_000.0)
    assert [(s.lot_id, s.quantity, s.gain) for _, _, s in plan.sales] == [("new", 10.0, -500.0)]
    # Another purchase of EQ in the window (a lot of the IRA bought 5 days ago) is a replacement: refused
    ira = member("IRA", "traditional", [lot("i", "EQ", 1, 100, AS_OF - timedelta(days=5))], securities=securities)
    with pytest.raises(InvalidRequest, match="wash sale"):
        plan_withdrawal(household(alone, ira, securities=securities), amount=1_000.0, account_id="TAX")


# A withdrawal while an IRA still owes this year's RMD: the RMD owed comes first (any distribution from
# the IRA counts towards it, Treas. Reg. §1.408-8 Q&A-9; it must come out this year anyway).


def test_a_withdrawal_takes_the_rmd_still_owed_first_then_the_usual_order():
    plan = plan_withdrawal(sample_household(), amount=1_800.0, rmd_owed=[(("IRA",), 700.0)])
    assert plan.distributions == pytest.approx({"IRA": 700.0, "TAX": 1_100.0})
    assert plan.cash_used == pytest.approx({"IRA": 500.0, "TAX": 300.0})
    assert [(a, s.lot_id, s.quantity) for a, _, s in plan.sales] == [
        ("IRA", "i1", 2.0),  # 200 of the IRA's shares after its cash
        ("TAX", "loss_long", 16.0),  # then the taxable account as before: its cash, 800 of the loss lot
    ]
    # 32% on the IRA's 700; the taxable sale is a 160 loss (960 of basis for 800), deducted at 37%.
    assert plan.tax_cost == pytest.approx(0.32 * 700 - 0.37 * 160)
    assert plan.explanation[0].startswith("first $700.00 from IRA: $700.00 of its required minimum distribution")
    assert plan.raised == pytest.approx(1_800.0) and plan.amount == 1_800.0
    assert plan.rmd_taken == pytest.approx({"IRA": 700.0})
    assert withdrawal_plan_from_dict(withdrawal_plan_to_dict(plan)).rmd_taken == {"IRA": 700.0}
    assert plan_withdrawal(sample_household(), amount=1_800.0).rmd_taken == {}


def test_a_withdrawal_smaller_than_the_rmd_owed_comes_all_from_the_ira():
    plan = plan_withdrawal(sample_household(), amount=600.0, rmd_owed=[(("IRA",), 5_000.0)])
    assert plan.distributions == pytest.approx({"IRA": 600.0})
    assert [(a, s.lot_id, s.quantity) for a, _, s in plan.sales] == [("IRA", "i1", 1.0)]
    assert plan.tax_cost == pytest.approx(0.32 * 600)


def test_one_owners_rmd_owed_may_come_from_any_of_the_owners_iras_and_is_counted_once():
    ira1 = member("IRA1", "traditional", [], cash=1_000)
    ira2 = member("IRA2", "traditional", [], cash=1_000)
    taxable = member("TAX", "taxable", [], cash=5_000)
    plan = plan_withdrawal(household(taxable, ira1, ira2), amount=3_000.0, rmd_owed=[(("IRA1", "IRA2"), 1_500.0)])
    assert plan.distributions == pytest.approx({"IRA1": 1_000.0, "IRA2": 500.0, "TAX": 1_500.0})


def test_the_rmd_owed_is_not_taken_for_an_rmd_or_a_withdrawal_from_a_chosen_account():
    owed = [(("IRA",), 700.0)]
    assert plan_withdrawal(sample_household(), amount=100.0, account_id="TAX", rmd_owed=owed).distributions == {
        "TAX": 100.0}
    rmd = plan_withdrawal(sample_household(), amount=1_000.0, kind="rmd", account_id="IRA", rmd_owed=owed)
    assert rmd == plan_withdrawal(sample_household(), amount=1_000.0, kind="rmd", account_id="IRA")


@pytest.mark.parametrize(("owed", "words"), [
    ([(("TAX",), 100.0)], "'TAX' is not one"),
    ([(("NOPE",), 100.0)], "'NOPE' is not one"),
    ([(("IRA",), -1.0)], "at least 0, got -1.0"),
    ([(("IRA",), float("nan"))], "got nan"),
])
def test_a_wrong_rmd_owed_is_refused_in_words(owed, words):
    with pytest.raises(InvalidRequest, match=words):
        plan_withdrawal(sample_household(), amount=100.0, rmd_owed=owed)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(households(), st.data())
def test_the_rmd_owed_comes_out_of_its_iras_first_over_random_households(case, data):
    request, amount, born = case
    iras = [a for a in request.accounts if a.tax_status == "traditional"]
    owed = [((a.id,), float(data.draw(st.integers(0, 3_000)))) for a in iras]
    try:
        plan = plan_withdrawal(request, amount=amount, birth_dates=born, rmd_owed=owed)
    except InvalidRequest:  # the household cannot raise it, owed or not
        with pytest.raises(InvalidRequest):
            plan_withdrawal(request, amount=amount, birth_dates=born)
        return
    # The simple rule: each IRA gives at least what it owes, up to what is left to raise and what it holds.
    left = amount
    for a in iras:
        [(_, still)] = [o for o in owed if o[0] == (a.id,)]
        holds = a.request.account.cash + sum(x.quantity * _price(request, a.id, x.id) for x in a.request.account.lots)
        want = min(still, left, holds)
        if want >= 0.005:
            assert plan.distributions.get(a.id, 0.0) >= want - 0.01
            left -= want
    assert sum(plan.distributions.values()) == pytest.approx(amount, abs=0.005)
    # No lot is sold twice over, nor beyond what it holds.
    sold = {}
    for acc, _, s in plan.sales:
        assert (acc, s.lot_id) not in sold
        sold[acc, s.lot_id] = s.quantity
        held = next(x for m in request.accounts if m.id == acc for x in m.request.account.lots if x.id == s.lot_id)
        assert s.quantity <= held.quantity + 1e-9
