"""Married filing separately: two taxpayers in one household. Each spouse's Schedule D nets only
their own accounts' sales (and half of a joint account's), with their own $1,500 limit and their
own carryover (IRC §1211(b), §1212(b); Pub. 550 "Capital Losses"); wash sales still match across
both spouses (Pub. 550 "Wash Sales": "If you sell stock and your spouse ... buys substantially
identical stock, you also have a wash sale"). Worked examples, a random-case comparison with a
deliberately simple per-spouse Schedule D written here, and the engine's inputs."""

from datetime import date
from decimal import Decimal as D

import pytest
from django.db import IntegrityError, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rebalancing.engine.tax import estimated_tax, incremental_tax
from rebalancing.engine_inputs import rebalance_inputs_load
from rebalancing.ledger.carryover import loss_carried_into
from rebalancing.ledger.executions import executions_import
from rebalancing.ledger.reports import (
    ScheduleDSum,
    realised_gains,
    schedule_d_csv,
    schedules_d,
    schedules_d_by_household,
)
from rebalancing.ledger.schedule_d import joint_halves
from rebalancing.models import Account, Execution, Household, RealisedLot, Security

from ..rebalancing.book import make_account
from .helpers import buy, execution_csv, fill, release, sell

pytestmark = pytest.mark.django_db
AS_OF = date(2026, 11, 20)


def _household(filing_status="married_separate", **carryover) -> Household:
    return Household.objects.create(name="The Okafors", external_id="HH-OK", filing_status=filing_status, **carryover)


def _spouses(book, household) -> dict[str, Account]:
    """A: the first spouse's account, a 20,000 short-term lot of VTI; B: the second spouse's, a
    6,000 long-term lot of BND; J: a joint taxable account."""
    a = make_account("OK-A", model=book["model"], household=household, holdings=[("VTI", 100, 20000, date(2026, 2, 2))])
    b = make_account("OK-B", model=book["model"], household=household, holdings=[("BND", 200, 6000, date(2020, 1, 2))])
    j = make_account("OK-J", model=book["model"], household=household, holdings=[("VTI", 10, "1000.01", date(2020, 1, 2))])
    Account.objects.filter(pk=b.pk).update(spouse="second")
    Account.objects.filter(pk=j.pk).update(spouse="joint")
    return {"A": a, "B": b, "J": j}


def _loss_and_gain(accounts, pm) -> None:
    """Spouse A sells VTI for 10,000 (a 10,000 short-term loss); spouse B sells BND for 16,000 (a
    10,000 long-term gain)."""
    [loss] = release(accounts["A"], [sell("VTI", 100, 100.0, [("OK-A-L1", 100)])], pm=pm, as_of=date(2026, 6, 1))
    [gain] = release(accounts["B"], [sell("BND", 200, 80.0, [("OK-B-L1", 200)])], pm=pm, as_of=date(2026, 6, 1))
    executions_import(source=execution_csv(fill("OK-1", loss, 100, "100", date(2026, 6, 1)),
                                           fill("OK-2", gain, 200, "80", date(2026, 6, 1))),
                      actor="custodian feed", as_of=AS_OF)


def test_worked_example_one_spouses_loss_does_not_offset_the_others_gain(book, pm):
    # given: spouse A loses 10,000 (short-term), spouse B gains 10,000 (long-term), filing separately
    household = _household()
    _loss_and_gain(_spouses(book, household), pm)
    # when
    first, second = schedules_d(households=Household.objects.filter(pk=household.pk), year=2026)
    # then: B's gain is taxed in full; A deducts 1,500 and carries 8,500 short-term into 2027
    assert (first.spouse, first.spouse_label, second.spouse) == ("first", "First spouse", "second")
    a, b = first.sheet, second.sheet
    assert (a.net, a.limit, a.deduction, a.carried_out_short, a.carried_out_long) == (-10000, 1500, 1500, 8500, 0)
    assert (b.net, b.taxable_long, b.taxable_short, b.deduction) == (10000, 10000, 0, 0)
    # the household's figures are the sums of the two returns, never a netting across them
    [(rows, total)] = schedules_d_by_household([first, second])
    assert rows == [first, second] and isinstance(total, ScheduleDSum)
    assert (total.net, total.deduction, total.taxable_long, total.carried_out_short) == (0, 1500, 10000, 8500)
    assert schedule_d_csv([first, second]).splitlines()[1:] == [
        "HH-OK,The Okafors,Married filing separately,first,2026,-10000,0,0,-10000,0,0,0,0,-10000,1500,1500,0,0,8500,0,0,0",
        "HH-OK,The Okafors,Married filing separately,second,2026,0,0,0,0,10000,0,0,10000,10000,1500,0,0,10000,0,0,0,0",
    ]
    # and the loss carried into 2027 stays with spouse A
    assert loss_carried_into([household], 2027) == {(household.pk, "first"): (8500, 0), (household.pk, "second"): (0, 0)}


def test_the_same_sales_on_a_joint_return_net_to_nothing(book, pm):
    # Filing jointly the couple is one taxpayer: the loss offsets the gain, nothing is deducted or carried.
    household = _household("married_joint")
    _loss_and_gain(_spouses(book, household), pm)
    [joint] = schedules_d(households=Household.objects.filter(pk=household.pk), year=2026)
    assert (joint.spouse, joint.sheet.net, joint.sheet.deduction, joint.sheet.taxable_long,
            joint.sheet.carried_out_short) == ("", 0, 0, 0, 0)
    assert loss_carried_into([household], 2027) == {(household.pk, ""): (0, 0)}


def test_each_spouse_starts_from_their_own_opening_carryover(book, pm):
    # given: carried into 2026, the first spouse 4,000 short-term, the second 500 long-term
    household = _household(carryforward_year=2026, carryforward_short_term=D(4000), carryforward_second_long_term=D(500))
    _loss_and_gain(_spouses(book, household), pm)
    first, second = schedules_d(households=Household.objects.filter(pk=household.pk), year=2026)
    # then: A: -10,000 - 4,000 = -14,000, 1,500 deducted, 12,500 carried; B: 10,000 - 500 taxed
    assert (first.sheet.carried_in_short, first.sheet.deduction, first.sheet.carried_out_short) == (4000, 1500, 12500)
    assert (second.sheet.carried_in_long, second.sheet.taxable_long) == (500, 9500)


def test_a_joint_accounts_result_goes_half_on_each_return_to_the_cent(book, pm):
    # given: the joint account sells its lot (basis 1,000.01) for 950.00: a 50.01 long-term loss
    household = _household()
    accounts = _spouses(book, household)
    [order] = release(accounts["J"], [sell("VTI", 10, 95.0, [("OK-J-L1", 10)])], pm=pm, as_of=date(2026, 7, 1))
    executions_import(source=execution_csv(fill("OK-J1", order, 10, "95", date(2026, 7, 1))), actor="feed", as_of=AS_OF)
    first, second = schedules_d(households=Household.objects.filter(pk=household.pk), year=2026)
    # then: 25.01 on the first spouse's return, 25.00 on the second's: the whole, no cent lost or made
    assert (first.sheet.long_term, second.sheet.long_term) == (D("-25.01"), D("-25.00"))
    assert first.sheet.long_term + second.sheet.long_term == D("-50.01")


@given(st.integers(-10**12, 10**12))
def test_joint_halves_sum_to_the_whole_and_differ_by_at_most_a_cent(cents):
    amount = D(cents) / 100
    first, second = joint_halves(amount)
    assert first + second == amount
    assert 0 <= abs(first) - abs(second) <= D("0.01")
    assert first.as_tuple().exponent >= -2 and second.as_tuple().exponent >= -2
    assert joint_halves(amount) == (first, second)  # deterministic


def test_an_ira_cannot_be_joint(book):
    # IRC §408(a): an individual retirement account is one person's; the database refuses it too.
    ira = make_account("OK-I", model=book["model"], household=_household())
    Account.objects.filter(pk=ira.pk).update(tax_status="traditional")
    assert "IRC §408(a)" in Account.spouse_problem(spouse="joint", tax_status="traditional")
    assert Account.spouse_problem(spouse="joint", tax_status="taxable") == ""
    with pytest.raises(IntegrityError), transaction.atomic():
        Account.objects.filter(pk=ira.pk).update(spouse="joint")


def test_a_wash_sale_matches_across_spouses_filing_separately(book, pm):
    # given: spouse A sells VTI at a 1,000 loss; 10 days later spouse B buys ITOT, substantially
    # identical (one equivalence group here). Pub. 550: "If you sell stock and your spouse ... buys
    # substantially identical stock, you also have a wash sale" - filing separately changes nothing.
    household = _household()
    accounts = _spouses(book, household)
    [loss] = release(accounts["A"], [sell("VTI", 100, 190.0, [("OK-A-L1", 100)])], pm=pm, as_of=date(2026, 10, 1))
    [again] = release(accounts["B"], [buy("ITOT", 100, 95.0)], pm=pm, as_of=date(2026, 10, 11))
    executions_import(source=execution_csv(fill("W-1", loss, 100, "190", date(2026, 10, 1)),
                                           fill("W-2", again, 100, "95", date(2026, 10, 11))),
                      actor="custodian feed", as_of=AS_OF)
    # then: the loss is disallowed on A's sale and added to B's new shares' basis (IRC §1091(a), (d))
    [sale] = realised_gains(accounts=Account.objects.filter(household=household), start=date(2026, 1, 1),
                            end=date(2026, 12, 31)).lots
    assert (sale.account_number, sale.code, sale.adjustment, sale.gain_or_loss) == ("OK-A", "W", 1000, 0)
    replacement = accounts["B"].lots.get(security__symbol="ITOT")
    assert replacement.cost_basis == D(9500) + D(1000)
    first, _second = schedules_d(households=Household.objects.filter(pk=household.pk), year=2026)
    assert (first.sheet.net, first.sheet.deduction) == (0, 0)


def test_the_engine_hands_each_account_its_own_spouses_carried_loss(book):
    # given: carried into 2026, the first spouse 900 short-term and 300 long-term, the second 600
    # short-term; the first owns A, the second B, J is joint, and the first spouse's IRA
    household = _household(carryforward_year=AS_OF.year, carryforward_short_term=D(900),
                           carryforward_long_term=D(300), carryforward_second_short_term=D(600))
    accounts = _spouses(book, household)
    ira = make_account("OK-I", model=book["model"], household=household)
    Account.objects.filter(pk=ira.pk).update(tax_status="traditional")
    # when
    requests = {i.request.account.id: i.request.account for i in rebalance_inputs_load(
        [a.pk for a in (*accounts.values(), ira)], as_of=AS_OF)}
    returns = {n: [(r.id, r.share, r.carried_short, r.carried_long, r.loss_limit) for r in a.tax_returns]
               for n, a in requests.items()}
    # then: each account sees the whole of each return it is on - A the first spouse's, B the
    # second's, J half its results on each - with that return's own carried loss and 1,500; A never
    # sees the second spouse's loss, B never the first's; the IRA is on no return
    assert returns == {"OK-A": [("first", 1, 900, 300, 1500)], "OK-B": [("second", 1, 600, 0, 1500)],
                       "OK-J": [("first", 0.5, 900, 300, 1500), ("second", 0.5, 600, 0, 1500)], "OK-I": []}


def test_each_account_sees_its_whole_returns_yearly_loss_limit(book):
    # given: filing separately, the first spouse owns A, the second B, J is joint (IRC §1211(b):
    # 1,500 a year per return); and a second household filing jointly with two taxable accounts
    household = _household()
    accounts = _spouses(book, household)
    joint = Household.objects.create(name="Joint", external_id="HH-JOINT", filing_status="married_joint")
    c = make_account("OK-C", model=book["model"], household=joint)
    d = make_account("OK-D", model=book["model"], household=joint)
    # when
    requests = {i.request.account.id: i.request.account for i in rebalance_inputs_load(
        [a.pk for a in (*accounts.values(), c, d)], as_of=AS_OF)}
    limits = {n: [(r.id, r.loss_limit) for r in a.tax_returns] for n, a in requests.items()}
    # then: each return's whole limit, once per return: an estimate is what a run adds to the
    # return (engine.run_tax), so two accounts never deduct the same 3,000 twice
    assert limits == {"OK-A": [("first", 1500)], "OK-B": [("second", 1500)],
                      "OK-J": [("first", 1500), ("second", 1500)],
                      "OK-C": [("household", 3000)], "OK-D": [("household", 3000)]}


def test_an_accounts_tax_estimate_deducts_a_net_loss_only_up_to_its_limit():
    # A net loss of 10,000 short-term on a return filed separately: -1,500 x the short-term rate.
    assert estimated_tax(-10_000, 0, 0.4, 0.2, 1500) == -600
    assert incremental_tax(0, 0, -10_000, 0, 0.4, 0.2, 1500) == -600
    assert estimated_tax(-10_000, 0, 0.4, 0.2) == -1200


def test_a_spouses_carried_loss_reaches_no_account_of_the_other(book):
    # The second spouse's account alone is taxable here: the first spouse's carried loss cannot offset
    # its gains (before: a household's carried loss was shared by every taxable account).
    household = _household(carryforward_year=AS_OF.year, carryforward_short_term=D(900))
    b = make_account("OK-B", model=book["model"], household=household)
    Account.objects.filter(pk=b.pk).update(spouse="second")
    [inputs] = rebalance_inputs_load([b.pk], as_of=AS_OF)
    assert [(r.id, r.carried_short, r.carried_long) for r in inputs.request.account.tax_returns] == [("second", 0, 0)]


# --- Random cases against a simple per-spouse Schedule D --------------------------------------

YEARS = (2025, 2026, 2027)
SPOUSE_OF = {"R-F": "first", "R-S": "second", "R-J": "joint"}


def _reference_returns(sales, openings, limit):
    """A deliberately plain reading: each spouse's sales are their own accounts' and half of the
    joint account's (in cents, the second's half rounded toward zero, the first taking the odd
    cent), per year and term; each year nets them with what is carried in, deducts at most
    ``limit`` of a net loss, and carries the rest: each side's loss first offsets the other side's
    gain, the deduction takes short-term loss before long-term."""
    def half_toward_zero(cents):
        return -((-cents) // 2) if cents < 0 else cents // 2

    own = {s: {(y, t): 0 for y in YEARS for t in ("short", "long")} for s in ("first", "second")}
    joint = {(y, t): 0 for y in YEARS for t in ("short", "long")}
    for number, year, term, cents in sales:
        if SPOUSE_OF[number] == "joint":
            joint[(year, term)] += cents
        else:
            own[SPOUSE_OF[number]][(year, term)] += cents
    for key, cents in joint.items():
        second = half_toward_zero(cents)
        own["second"][key] += second
        own["first"][key] += cents - second
    out = {}
    for spouse in ("first", "second"):
        carried_short, carried_long = openings[spouse]
        for year in YEARS:
            short = own[spouse][(year, "short")] - carried_short
            long = own[spouse][(year, "long")] - carried_long
            net = short + long
            deducted = min(limit, -net) if net < 0 else 0
            short_loss, long_loss = max(-short, 0), max(-long, 0)
            short_loss, long_loss = max(short_loss - max(long, 0), 0), max(long_loss - max(short, 0), 0)
            from_short = min(deducted, short_loss)
            carried_short, carried_long = short_loss - from_short, long_loss - (deducted - from_short)
            out[(spouse, year)] = (net, deducted, carried_short, carried_long)
    return out


@st.composite
def _cases(draw):
    sales = draw(st.lists(st.tuples(st.sampled_from(sorted(SPOUSE_OF)), st.sampled_from(YEARS),
                                    st.sampled_from(("short", "long")), st.integers(-900_000, 600_000)),
                          max_size=10))
    openings = {s: (draw(st.integers(0, 400_000)), draw(st.integers(0, 400_000))) for s in ("first", "second")}
    return sales, openings


@pytest.fixture
def random_book(book, pm):
    """Three accounts of one household filing separately, and one real sale's execution the
    random cases' realised lots hang on."""
    household = _household()
    accounts = {n: make_account(n, model=book["model"], household=household) for n in SPOUSE_OF}
    for number, spouse in SPOUSE_OF.items():
        Account.objects.filter(pk=accounts[number].pk).update(spouse=spouse)
    [order] = release(book["account"], [sell("VTI", 1, 100.0, [("A-1-L1", 1)])], pm=pm, as_of=date(2026, 1, 5))
    executions_import(source=execution_csv(fill("R-X", order, 1, "100", date(2026, 1, 5))), actor="t", as_of=AS_OF)
    return household, accounts, Execution.objects.get(external_id="R-X")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=_cases())
def test_each_spouses_schedule_d_agrees_with_a_simple_reading(random_book, case):
    household, accounts, execution = random_book
    sales, openings = case
    vti = Security.objects.get(symbol="VTI")
    savepoint = transaction.savepoint()
    try:
        Household.objects.filter(pk=household.pk).update(
            carryforward_year=YEARS[0], carryforward_short_term=D(openings["first"][0]) / 100,
            carryforward_long_term=D(openings["first"][1]) / 100,
            carryforward_second_short_term=D(openings["second"][0]) / 100,
            carryforward_second_long_term=D(openings["second"][1]) / 100)
        RealisedLot.objects.bulk_create([
            RealisedLot(account=accounts[number], execution=execution, lot_id=f"R-{i}", security=vti, quantity=1,
                        proceeds=D(10**7 + cents) / 100, cost_basis=D(10**7) / 100, gain=D(cents) / 100, term=term,
                        acquired=date(year - 2, 1, 1), purchased=date(year - 2, 1, 1), sold=date(year, 6, 1))
            for i, (number, year, term, cents) in enumerate(sales)])
        # The accounts' year-to-date figures as the ledger keeps them, booking each year's sales in
        # turn (a new year's start afresh): nothing realised before the ledger's records.
        for year in YEARS:
            for number in {n for n, y, _, _ in sales if y == year}:
                short = sum((D(c) / 100 for n, y, t, c in sales if (n, y, t) == (number, year, "short")), D(0))
                long = sum((D(c) / 100 for n, y, t, c in sales if (n, y, t) == (number, year, "long")), D(0))
                Account.objects.filter(pk=accounts[number].pk).update(**Account.realised_ytd_added(year, short, long))
        household.refresh_from_db()
        want = _reference_returns(sales, openings, 150_000)
        for year in YEARS:
            rows = schedules_d(households=Household.objects.filter(pk=household.pk), year=year)
            assert [r.spouse for r in rows] == ["first", "second"]
            for row in rows:
                s = row.sheet
                got = tuple(int(v * 100) for v in (s.net, s.deduction, s.carried_out_short, s.carried_out_long))
                assert got == want[(row.spouse, year)], (row.spouse, year, got, want[(row.spouse, year)])
            [(_, total)] = schedules_d_by_household(rows)
            assert total.deduction == rows[0].sheet.deduction + rows[1].sheet.deduction
        # The engine nets 2027's proposals against each spouse's loss carried out of 2026.
        carried = loss_carried_into([household], 2027)
        for spouse in ("first", "second"):
            assert tuple(int(v * 100) for v in carried[(household.pk, spouse)]) == want[(spouse, 2026)][2:]
    finally:
        transaction.savepoint_rollback(savepoint)
