"""The tax figures a household's fills become, through the real ledger (executions imported), against
a share-by-share reading of the rules written here: random histories across a year end (sales of
lots on both sides of their first anniversary, wash sales whose replacements are bought in the next
year, a spouse's account and an IRA), checked on every sale's term (Pub. 550: "more than one year",
counting from the day after acquisition, the sale day included), the realised-gains report's
totals, each year's Schedule D with its carryover (IRC §1211(b), §1212(b)) and the year-to-date
figures the engine nets against."""

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal as D
from fractions import Fraction

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rebalancing.ledger.carryover import loss_carried_into
from rebalancing.ledger.executions import executions_import
from rebalancing.ledger.reports import realised_gains, schedules_d
from rebalancing.ledger.wash_sales import Draw, Lot
from rebalancing.models import Account, BasisAdjustment, Household, RealisedLot, Security, TaxLot

from ..rebalancing.book import make_account
from .helpers import buy, execution_csv, fill, release, sell
from .test_wash_sales_replay import simple_shares

pytestmark = pytest.mark.django_db
AS_OF = date(2026, 2, 20)
START = date(2025, 11, 20)
ACCOUNTS = {"X-1": "taxable", "X-2": "taxable", "X-IRA": "traditional"}
ORIGINAL = {  # lot id -> (account, symbol, quantity, cost, acquired); VTI and ITOT are one group
    "X-1-L1": ("X-1", "VTI", 60, 7200, date(2024, 12, 10)),
    "X-1-L2": ("X-1", "VTI", 40, 3200, date(2024, 11, 25)),
    "X-2-L1": ("X-2", "ITOT", 50, 5500, date(2025, 1, 5)),
}
YEARS = (2025, 2026)


def more_than_a_year(start: date, sold: date) -> bool:
    """Pub. 550: start counting on the day after ``start``; the sale day is part of the period.
    Held more than one year: sold after the day before that count's first anniversary."""
    first = start + timedelta(days=1)
    return sold >= first.replace(year=first.year + 1)


@st.composite
def histories(draw):
    """Steps in date order: ("buy", account, symbol, fill id, quantity, day, price) or ("sell",
    account, lot id, fill id, quantity, day, price); a sale takes only shares its lot holds."""
    held = {lot_id: [spec[0], spec[1], spec[2]] for lot_id, spec in ORIGINAL.items()}
    day, steps = START, []
    if draw(st.booleans()):
        # Often: a loss on the year-old lot shortly before its anniversary, and a purchase soon
        # after in one of the accounts, whose shares then carry the holding period across a year.
        quantity = draw(st.integers(1, 60))
        held["X-1-L1"][2] -= quantity
        steps.append(("sell", "X-1", "X-1-L1", "S0", quantity, day, draw(st.integers(60, 115))))
        day += timedelta(days=draw(st.integers(0, 20)))
        account, quantity = draw(st.sampled_from(sorted(ACCOUNTS))), draw(st.integers(1, 70))
        held["B1"] = [account, "ITOT", quantity]
        steps.append(("buy", account, "ITOT", "B1", quantity, day, draw(st.integers(60, 115))))
    for n in range(len(steps), len(steps) + draw(st.integers(3, 12))):
        day += timedelta(days=draw(st.integers(0, 12)))
        if day > AS_OF:
            break
        account = draw(st.sampled_from(sorted(ACCOUNTS)))
        price = draw(st.integers(50, 160))
        mine = [lot for lot, (acct, _, q) in held.items() if acct == account and q > 0]  # oldest first
        if mine and draw(st.integers(0, 2)) > 0:
            lot = mine[-1] if draw(st.booleans()) else draw(st.sampled_from(mine))
            quantity = draw(st.integers(1, held[lot][2]))
            held[lot][2] -= quantity
            steps.append(("sell", account, lot, f"S{n}", quantity, day, price))
        else:
            symbol, quantity = draw(st.sampled_from(["VTI", "ITOT"])), draw(st.integers(2, 60))
            held[f"B{n}"] = [account, symbol, quantity]
            steps.append(("buy", account, symbol, f"B{n}", quantity, day, price))
    return steps, draw(st.sampled_from(["married_joint", "married_separate"])), draw(
        st.sampled_from([None, (0, 2500), (4000, 0), (1200, 3100)]))


def _reference(steps):
    """Per taxable account, year and term: [proceeds, basis, disallowed, lost] of the shares sold;
    and shares per (account, lot, sale, term)."""
    lots = {lot_id: {"account": a, "purchased": d, "quantity": q, "cost": D(c), "draws": []}
            for lot_id, (a, _, q, c, d) in ORIGINAL.items()}
    for kind, account, what, fill_id, q, d, price in steps:
        if kind == "buy":
            lots[fill_id] = {"account": account, "purchased": d, "quantity": q, "cost": D(q * price), "draws": []}
        else:
            lot = lots[what]
            lot["draws"].append(Draw(sale=fill_id, sold=d, named=what, quantity=D(q), proceeds=D(q * price),
                                     unadjusted=lot["cost"] * q / lot["quantity"]))
    history = [Lot(key=lot_id, account=lot["account"], taxable=ACCOUNTS[lot["account"]] == "taxable",
                   lot_id=lot_id, purchased=lot["purchased"],
                   held=D(lot["quantity"]) - sum((d.quantity for d in lot["draws"]), D(0)),
                   held_unadjusted=lot["cost"] * (lot["quantity"] - sum(d.quantity for d in lot["draws"])) / lot["quantity"],
                   draws=tuple(lot["draws"]))
               for lot_id, lot in lots.items()]
    shares, sold_on = simple_shares(history)
    replaced_by = {id(s.src): s for s in shares if s.src is not None}
    totals = defaultdict(lambda: [Fraction(0)] * 4)
    counts = defaultdict(int)
    for s in shares:
        if s.sale is None or not s.lot.taxable:
            continue
        sold = sold_on[s.sale]
        term = "long" if more_than_a_year(s.start(sold_on), sold) else "short"
        replacement = replaced_by.get(id(s))
        disallowed = s.loss() if replacement is not None else Fraction(0)
        row = totals[(s.lot.account, sold.year, term)]
        row[0] += s.proceeds()
        row[1] += s.unadjusted() + s.wash()
        row[2] += disallowed
        row[3] += disallowed if replacement is not None and not replacement.lot.taxable else 0
        counts[(s.lot.account, s.lot.lot_id, s.sale, term)] += 1
    return totals, counts


def _schedule(results: dict[int, tuple[Fraction, Fraction]], limit: int, opening) -> dict[int, tuple]:
    """Schedule D by loss pools: each side's net loss offsets the other side's gain, then at most
    ``limit`` of what is left is deducted, short-term first; the rest is carried, keeping its
    character. Year -> (short, long, deduction, carried out short, carried out long)."""
    carried = (Fraction(opening[0]), Fraction(opening[1])) if opening else (Fraction(0), Fraction(0))
    out = {}
    for year in YEARS:
        short, long = results.get(year, (0, 0))
        short, long = short - carried[0], long - carried[1]
        st_loss, lt_loss = max(-short, 0), max(-long, 0)
        st_left = st_loss - min(st_loss, max(long, 0))
        lt_left = lt_loss - min(lt_loss, max(short, 0))
        deduction = min(limit, st_left + lt_left)
        from_short = min(st_left, deduction)
        carried = (st_left - from_short, lt_left - (deduction - from_short))
        out[year] = (short, long, deduction, *carried)
    return out


def _returns(household, year):
    """The household's Schedule D of ``year`` holding its accounts' sales: its one return, or, filing
    separately, the first spouse's (every account here is the first spouse's; the second's is empty)."""
    rows = schedules_d(households=Household.objects.filter(pk=household.pk), year=year)
    if household.files_separately:
        assert [r.spouse for r in rows] == ["first", "second"] and rows[1].sheet.net == 0
        return rows[:1]
    return rows


def _close(got, want, cents: int) -> bool:
    return abs(Fraction(got) - Fraction(want)) <= Fraction(cents, 100)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(case=histories())
def test_terms_reports_schedule_d_and_ytd_agree_with_a_share_by_share_reading(book, pm, case):
    steps, filing_status, opening = case
    savepoint = transaction.savepoint()
    try:
        household = Household.objects.create(
            name="Audit household", external_id="HH-AUDIT", filing_status=filing_status,
            carryforward_year=2025 if opening else None,
            carryforward_short_term=D(opening[0]) if opening else 0,
            carryforward_long_term=D(opening[1]) if opening else 0)
        accounts = {number: make_account(number, model=book["model"], household=household, holdings=[
            (symbol, q, c, d) for _, (a, symbol, q, c, d) in sorted(ORIGINAL.items()) if a == number])
            for number in ACCOUNTS}
        Account.objects.filter(pk=accounts["X-IRA"].pk).update(tax_status="traditional")
        symbols = {lot_id: spec[1] for lot_id, spec in ORIGINAL.items()}
        rows = []
        for kind, account, what, fill_id, q, d, price in steps:
            if kind == "buy":
                symbols[fill_id] = what
                [order] = release(accounts[account], [buy(what, q, float(price))], pm=pm, as_of=d)
            else:
                [order] = release(accounts[account], [sell(symbols[what], q, float(price), [(what, q)])], pm=pm,
                                  as_of=d)
            rows.append(fill(fill_id, order, q, str(price), d))
        executions_import(source=execution_csv(*rows), actor="custodian feed", as_of=AS_OF)

        totals, counts = _reference(steps)
        sale_of = {r["external_id"]: r["external_id"] for r in rows}
        stored = defaultdict(int)
        pieces = defaultdict(int)
        for r in RealisedLot.objects.filter(account__taxable=True).select_related("account", "execution"):
            stored[(r.account.custodian_number, r.bought_as, sale_of[r.execution.external_id], r.term)] += int(r.quantity)
            pieces[(r.account.custodian_number, r.sold.year)] += 1
        # Every share sold has the term its holding period (tacked on for replacements) gives it.
        assert dict(stored) == dict(counts)

        mine = Account.objects.filter(household=household)
        results = {}
        for year in YEARS:
            report = realised_gains(accounts=mine, start=date(year, 1, 1), end=date(year, 12, 31))
            by_account = {t.key: t for t in report.accounts}
            for number in ("X-1", "X-2"):
                slack = pieces[(number, year)] + 1
                for term in ("short", "long"):
                    proceeds, basis, disallowed, lost = totals[(number, year, term)]
                    got = getattr(by_account[number], term) if number in by_account else None
                    got = (got.proceeds, got.cost_basis, got.adjustment, got.lost) if got else (0, 0, 0, 0)
                    want = (proceeds, basis, disallowed, lost)
                    assert all(_close(g, w, slack) for g, w in zip(got, want, strict=True)), (number, year, term, got,
                                                                                             [float(w) for w in want])
            household_totals = {t.key: t for t in report.households}.get("HH-AUDIT")
            results[year] = tuple(
                sum((totals[(n, year, term)][0] - totals[(n, year, term)][1] + totals[(n, year, term)][2]
                     for n in ("X-1", "X-2")), Fraction(0)) for term in ("short", "long"))
            [sheet] = _returns(household, year)
            # Schedule D is read from the same sales as the report: to the cent.
            assert (sheet.sheet.short_term, sheet.sheet.long_term) == (
                (household_totals.short.gain_or_loss, household_totals.long.gain_or_loss) if household_totals
                else (0, 0))
        limit = 1500 if filing_status == "married_separate" else 3000
        want = _schedule(results, limit, opening)
        slack = sum(pieces.values()) + 2
        for year in YEARS:
            [row] = _returns(household, year)
            s = row.sheet
            got = (s.net_short, s.net_long, s.deduction, s.carried_out_short, s.carried_out_long)
            assert all(_close(g, w, slack) for g, w in zip(got, want[year], strict=True)), (
                year, got, [float(w) for w in want[year]])

        # The engine nets 2026's proposals against the loss Schedule D carries out of 2025.
        [sheet_2025] = _returns(household, 2025)
        assert loss_carried_into([household], 2026)[(household.pk, sheet_2025.spouse)] == (
            sheet_2025.sheet.carried_out_short, sheet_2025.sheet.carried_out_long)

        # What each sale defers is what its replacements gain or lose for good, to the cent.
        for disallowed, lost, split, added in _deferred_where_it_went().values():
            assert (split, added) == (disallowed, disallowed - lost)

        # The year-to-date figures (the as-of year's sales only, after wash sales).
        for number in ("X-1", "X-2"):
            account = Account.objects.get(custodian_number=number)
            for term, ytd in (("short", account.realised_short_term_ytd), ("long", account.realised_long_term_ytd)):
                proceeds, basis, disallowed, _ = totals[(number, AS_OF.year, term)]
                assert _close(ytd, proceeds - basis + disallowed, pieces[(number, AS_OF.year)] + 1), (number, term)
    finally:
        transaction.savepoint_rollback(savepoint)


@pytest.mark.parametrize("sold", [40, 100])
def test_a_lot_bought_and_sold_on_the_same_day_in_one_file_is_realised_once(book, pm, sold):
    # A day trade arriving in one file: the buy's lot is created and drawn from the same day. Part
    # sold: the rest is held with its own cost; all sold: no lot is left (before, the file failed
    # with "All bulk_update() objects must have a primary key set", or left an empty lot behind).
    account, day = book["account"], date(2026, 11, 2)
    [bought] = release(account, [buy("BND", 100, 80.0)], pm=pm, as_of=day)
    [sale] = release(account, [sell("BND", sold, 78.0, [("DT-1", sold)])], pm=pm, as_of=day)
    executions_import(source=execution_csv(fill("DT-1", bought, 100, "80", day), fill("DT-2", sale, sold, "78", day)),
                      actor="custodian feed", as_of=date(2026, 11, 20))

    [realised] = RealisedLot.objects.filter(execution__external_id="DT-2")
    assert (realised.lot_id, realised.quantity, realised.proceeds, realised.cost_basis, realised.term) == (
        "DT-1", D(sold), D(78 * sold), D(80 * sold), "short")
    held = list(account.lots.filter(lot_id="DT-1").values_list("quantity", "cost_basis"))
    assert held == ([] if sold == 100 else [(D(100 - sold), D(80 * (100 - sold)))])


def test_a_replacement_bought_across_the_year_end_in_a_spouses_account_carries_basis_and_term(book, pm):
    # X-1 sells 60 VTI bought 2024-12-10 for 7,200 on 2025-11-25 for 6,000: a 1,200 short-term loss
    # after 350 days. The spouse's account buys 60 ITOT (substantially identical) on 2025-12-05 for
    # 5,400: the loss is disallowed (IRC §1091(a); Pub. 550: a spouse's purchase counts), added to
    # the new shares' basis (6,600, §1091(d)), and their holding period starts 350 days before their
    # purchase, 2024-12-20 (§1223(3)). Sold on 2026-01-15 for 5,700 they are long-term: a 900
    # long-term loss in 2026 (Schedule D line 15), deducted in full (§1211(b)).
    household = Household.objects.create(name="Spouses", external_id="HH-S", filing_status="married_joint")
    x1 = make_account("X-1", model=book["model"], household=household, holdings=[("VTI", 60, 7200, date(2024, 12, 10))])
    x2 = make_account("X-2", model=book["model"], household=household)
    [loss] = release(x1, [sell("VTI", 60, 100.0, [("X-1-L1", 60)])], pm=pm, as_of=date(2025, 11, 25))
    [again] = release(x2, [buy("ITOT", 60, 90.0)], pm=pm, as_of=date(2025, 12, 5))
    [later] = release(x2, [sell("ITOT", 60, 95.0, [("R-1", 60)])], pm=pm, as_of=date(2026, 1, 15))
    executions_import(source=execution_csv(fill("L-1", loss, 60, "100", date(2025, 11, 25)),
                                           fill("R-1", again, 60, "90", date(2025, 12, 5)),
                                           fill("L-2", later, 60, "95", date(2026, 1, 15))),
                      actor="custodian feed", as_of=date(2026, 1, 31))

    accounts = Account.objects.filter(household=household)
    [sold_2025] = realised_gains(accounts=accounts, start=date(2025, 1, 1), end=date(2025, 12, 31)).lots
    assert (sold_2025.proceeds, sold_2025.cost_basis, sold_2025.code, sold_2025.adjustment, sold_2025.gain_or_loss,
            sold_2025.term) == (D("6000.00"), D("7200.00"), "W", D("1200.00"), D("0.00"), "short")
    [sold_2026] = realised_gains(accounts=accounts, start=date(2026, 1, 1), end=date(2026, 12, 31)).lots
    assert (sold_2026.account_number, sold_2026.acquired, sold_2026.purchased, sold_2026.term) == (
        "X-2", date(2024, 12, 20), date(2025, 12, 5), "long")
    assert (sold_2026.proceeds, sold_2026.cost_basis, sold_2026.adjustment, sold_2026.gain_or_loss) == (
        D("5700.00"), D("6600.00"), D("0.00"), D("-900.00"))
    [d2025] = schedules_d(households=Household.objects.filter(pk=household.pk), year=2025)
    [d2026] = schedules_d(households=Household.objects.filter(pk=household.pk), year=2026)
    assert (d2025.sheet.short_term, d2025.sheet.long_term, d2025.sheet.deduction) == (0, 0, 0)
    assert (d2026.sheet.short_term, d2026.sheet.long_term, d2026.sheet.deduction,
            d2026.sheet.carried_out_short, d2026.sheet.carried_out_long) == (0, D("-900.00"), D("900.00"), 0, 0)
    x2.refresh_from_db()
    assert (x2.realised_short_term_ytd, x2.realised_long_term_ytd) == (0, D("-900.00"))


def test_an_iras_transition_spends_no_tax_and_is_not_held_to_the_gains_budget(book, pm):
    # Gains realised inside an IRA are not taxed (IRC §408(e)(1)); the engine applies the yearly
    # gains budget to taxable accounts only (engine.limits), so the report must neither charge tax
    # on the IRA's sales or legacy gain nor spread its legacy over budget years.
    from rebalancing.ledger.reports import transition

    from ..rebalancing.book import make_template

    template = make_template("transition", parameters={"transition": {"enabled": True, "max_net_gain_per_year": 3000}})
    ira = make_account("I-1", model=book["model"], template=template, holdings=[
        ("SCHB", 400, 4000, date(2020, 1, 2)), ("AGG", 50, 4000, date(2020, 1, 2))])
    Account.objects.filter(pk=ira.pk).update(tax_status="traditional")
    [sale] = release(ira, [sell("AGG", 50, 100.0, [("I-1-L2", 50)])], pm=pm, as_of=date(2026, 11, 2))
    executions_import(source=execution_csv(fill("I-S1", sale, 50, "100", date(2026, 11, 2))), actor="custodian feed",
                      as_of=date(2026, 11, 20))

    [row] = [r for r in transition(accounts=Account.objects.all(), as_of=date(2026, 11, 20)) if r.account_number == "I-1"]
    assert row.legacy_gain > 3000  # more than a year's budget, were it taxable
    assert row.tax_spent == 0
    assert (row.years_left, [y.tax for y in row.path]) == (1, [0])


def test_a_sale_is_refused_when_the_lot_it_names_now_holds_another_security(book, pm):
    # Specific identification names shares of the security sold (Pub. 550 "Adequate
    # identification"): an order selling VTI that names a lot of BND (a lot id reused since the
    # order was released, e.g. by an accepted reconciliation) must not relieve the BND lot and book
    # its sale as VTI on Form 8949.
    from rebalancing.imports import ImportRejected

    account = book["account"]
    [order] = release(account, [sell("VTI", 10, 100.0, [("A-1-L2", 10)])], pm=pm)
    TaxLot.objects.filter(account=account, lot_id="A-1-L2").update(security=Security.objects.get(symbol="BND"))
    with pytest.raises(ImportRejected) as excinfo:
        executions_import(source=execution_csv(fill("X-S1", order, 10, "100", date(2026, 11, 20))),
                          actor="custodian feed", as_of=date(2026, 11, 20))
    [problem] = excinfo.value.detail["problems"]
    assert "BND" in problem["problem"] and "VTI" in problem["problem"]
    assert not RealisedLot.objects.exists()


def _deferred_where_it_went():
    """Every sale's disallowed loss against its adjustments: (disallowed, lost, sum of the
    adjustments' losses, sum of the basis they added)."""
    out = {}
    for r in RealisedLot.objects.filter(disallowed_loss__gt=0):
        adjustments = BasisAdjustment.objects.filter(source=r)
        out[r.pk] = (r.disallowed_loss, r.disallowed_permanently, sum(a.disallowed_loss for a in adjustments),
                     sum(a.basis_added for a in adjustments))
    return out


def test_a_loss_split_over_several_replacements_is_added_to_their_basis_to_the_cent(book, pm):
    # 3 shares bought for 400 sold for 300: a 100.00 loss, 33.33... a share. One share bought back in
    # each of X-1, the IRA and X-2 in the next days: 100.00 is disallowed; the IRA's third is lost for
    # good (Rev. Rul. 2008-5) and the rest is added to the two taxable lots (IRC §1091(d)), so the
    # cents the sale defers are the cents the replacements gain (before, 33.33 + 33.33 + 33.33 of a
    # 100.00 disallowance, a cent gone).
    household = Household.objects.create(name="Cents", external_id="HH-C")
    x1 = make_account("X-1", model=book["model"], household=household, holdings=[("VTI", 3, 400, date(2025, 1, 2))])
    ira = make_account("X-IRA", model=book["model"], household=household)
    Account.objects.filter(pk=ira.pk).update(tax_status="traditional")
    x2 = make_account("X-2", model=book["model"], household=household)
    [sale] = release(x1, [sell("VTI", 3, 100.0, [("X-1-L1", 3)])], pm=pm, as_of=date(2026, 11, 2))
    rows = [fill("C-S", sale, 3, "100", date(2026, 11, 2))]
    for n, account in enumerate((x1, ira, x2)):
        [order] = release(account, [buy("VTI", 1, 90.0)], pm=pm, as_of=date(2026, 11, 3 + n))
        rows.append(fill(f"C-B{n}", order, 1, "90", date(2026, 11, 3 + n)))
    executions_import(source=execution_csv(*rows), actor="custodian feed", as_of=date(2026, 11, 20))

    [(disallowed, lost, split, added)] = _deferred_where_it_went().values()
    assert (disallowed, split) == (D("100.00"), D("100.00"))
    assert lost in (D("33.33"), D("33.34")) and added == disallowed - lost
    assert sum(lot.wash_adjustment for lot in TaxLot.objects.filter(account__in=[x1, x2])) == added


@pytest.mark.parametrize("traded", [date(2026, 5, 31), date(2026, 6, 1)])
def test_a_sale_cannot_take_shares_bought_after_its_trade_date(book, pm, traded):
    # A-1-L2 (50 VTI) was bought on 2026-06-01. A fill of a sale naming it, dated 2026-05-31, would
    # sell shares not yet owned: before, it was booked as a 200.00 short-term loss "acquired"
    # 2026-06-01 and "sold" 2026-05-31. Now it is refused naming the trade date, nothing written;
    # a sale on the purchase day itself (a day trade) stands.
    from rebalancing.imports import ImportRejected

    account = book["account"]
    [order] = release(account, [sell("VTI", 10, 100.0, [("A-1-L2", 10)])], pm=pm, as_of=traded)
    source = execution_csv(fill("X-S1", order, 10, "100", traded))
    if traded < date(2026, 6, 1):
        with pytest.raises(ImportRejected) as excinfo:
            executions_import(source=source, actor="custodian feed", as_of=date(2026, 11, 20))
        [problem] = excinfo.value.detail["problems"]
        assert problem["column"] == "trade_date" and "2026-06-01" in problem["problem"]
        assert not RealisedLot.objects.exists()
        assert TaxLot.objects.get(account=account, lot_id="A-1-L2").quantity == 50
    else:
        executions_import(source=source, actor="custodian feed", as_of=date(2026, 11, 20))
        [realised] = RealisedLot.objects.all()
        assert (realised.acquired, realised.sold, realised.gain) == (date(2026, 6, 1), traded, D("-200.00"))


def test_a_day_trade_is_applied_whatever_the_lines_order_within_the_day(book, pm):
    # A custodian's file may list a day's sells before its buys. A lot bought and partly sold on
    # 2026-11-02 with the sale's line first: before, the sale was tried before the purchase that
    # day and the file refused ("the lots named ... hold 0 shares"). Within a day, purchases come
    # first (a sale can take shares bought that day; a purchase never depends on a sale).
    account, day = book["account"], date(2026, 11, 2)
    [bought] = release(account, [buy("BND", 100, 80.0)], pm=pm, as_of=day)
    [sale] = release(account, [sell("BND", 40, 78.0, [("DT-1", 40)])], pm=pm, as_of=day)
    executions_import(source=execution_csv(fill("DT-2", sale, 40, "78", day), fill("DT-1", bought, 100, "80", day)),
                      actor="custodian feed", as_of=date(2026, 11, 20))

    [realised] = RealisedLot.objects.filter(execution__external_id="DT-2")
    assert (realised.lot_id, realised.quantity, realised.proceeds, realised.cost_basis, realised.gain) == (
        "DT-1", D(40), D("3120.00"), D("3200.00"), D("-80.00"))
    assert list(account.lots.filter(lot_id="DT-1").values_list("quantity", "cost_basis")) == [(D(60), D("4800.00"))]
