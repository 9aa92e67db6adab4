"""The engine's view of a household's returns, as the loader hands it: every taxable account on a
return sees the return's whole year so far, its carried loss and its whole limit (engine.TaxReturn),
so a proposal is charged what it adds to the return's Schedule D (Pub. 550; IRC §1211(b), §1212(b))."""

from datetime import date
from decimal import Decimal as D

import pytest

from rebalancing import engine
from rebalancing.engine_inputs import rebalance_inputs_load
from rebalancing.models import Account, Household

from ..rebalancing.book import make_account

pytestmark = pytest.mark.django_db
AS_OF = date(2026, 11, 20)


def _taxable(number, household, book, *, short=0, long=0, spouse="first", rates=("0.37", "0.238")) -> Account:
    account = make_account(number, model=book["model"], household=household,
                           holdings=[("VTI", 100, 20000, date(2020, 1, 2))])
    Account.objects.filter(pk=account.pk).update(
        realised_short_term_ytd=D(short), realised_long_term_ytd=D(long), realised_ytd_year=AS_OF.year,
        spouse=spouse, short_term_rate=D(rates[0]), long_term_rate=D(rates[1]))
    return account


def _requests(*accounts) -> dict[str, engine.Account]:
    return {i.request.account.id: i.request.account
            for i in rebalance_inputs_load([a.pk for a in accounts], as_of=AS_OF)}


def test_two_accounts_on_one_return_another_accounts_loss_makes_a_gain_free(book):
    # given: one return; A realised a net short-term loss of 20,000 this year (and an IRA beside)
    household = Household.objects.create(name="Lee", external_id="HH-LEE", filing_status="married_joint")
    a = _taxable("LEE-A", household, book, short=-20_000)
    b = _taxable("LEE-B", household, book)
    ira = make_account("LEE-I", model=book["model"], household=household)
    Account.objects.filter(pk=ira.pk).update(tax_status="traditional", realised_short_term_ytd=D(5_000))
    # when
    requests = _requests(a, b, ira)
    # then: B sees the return's -20,000 (not the IRA's figures) and the whole 3,000
    assert [(r.id, r.short_term_ytd, r.loss_limit, r.share) for r in requests["LEE-B"].tax_returns] == [
        ("household", -20_000, 3_000, 1)]
    # and B's proposal realising a 10,000 long-term gain costs the return nothing (before: 2,380)
    assert engine.run_tax(requests["LEE-B"], 0.0, 10_000.0) == 0.0
    # and a harvest in A beside gains in B is worth the whole short-term rate
    Account.objects.filter(pk=a.pk).update(realised_short_term_ytd=D(0))
    Account.objects.filter(pk=b.pk).update(realised_short_term_ytd=D(20_000))
    assert engine.run_tax(_requests(a)["LEE-A"], -5_000.0, 0.0) == pytest.approx(-5_000 * 0.37)


def test_a_couple_filing_separately_with_a_joint_account(book):
    # given: the first spouse's A realised 10,000 short-term this year; the second spouse's B
    # realised a 1,000 long-term loss; J is joint; the second spouse carries 600 short-term in
    household = Household.objects.create(name="Okafor", external_id="HH-OKA", filing_status="married_separate",
                                         carryforward_year=AS_OF.year, carryforward_second_short_term=D(600))
    a = _taxable("OKA-A", household, book, short=10_000)
    b = _taxable("OKA-B", household, book, long=-1_000, spouse="second")
    j = _taxable("OKA-J", household, book, short=400, spouse="joint")
    # when
    requests = _requests(a, b, j)
    # then: J's half goes on each return, each seen whole (A's and B's results, J's halves)
    assert [(r.id, r.share, r.short_term_ytd, r.long_term_ytd, r.carried_short, r.loss_limit)
            for r in requests["OKA-J"].tax_returns] == [("first", 0.5, 10_200, 0, 0, 1_500),
                                                         ("second", 0.5, 200, -1_000, 600, 1_500)]
    # and J's 4,000 long-term loss: 2,000 off the first spouse's short-term gain; on the second's
    # return (200 - 600 short, -1,000 long: already a 1,400 loss) 2,000 more, deducted only to 1,500
    assert engine.run_tax(requests["OKA-J"], 0.0, -4_000.0) == pytest.approx(-2_000 * 0.37 - 100 * 0.37)
    # and B's 1,000 long-term gain nets against the second return's losses only (never A's gains):
    # its net loss of 1,400, deducted from ordinary income, falls to 400 - 1,000 less deducted
    assert engine.run_tax(requests["OKA-B"], 0.0, 1_000.0) == pytest.approx(1_000 * 0.37)


def test_the_transition_report_charges_what_the_sales_added_to_the_return(book, pm):
    # given: one return; the transition account T sells a lot at a 10,000 long-term gain and O, its
    # household's other taxable account, a lot at a 20,000 short-term loss, in the same year
    from rebalancing.ledger.executions import executions_import
    from rebalancing.ledger.reports import transition

    from ..rebalancing.book import make_template
    from .helpers import execution_csv, fill, release, sell

    household = Household.objects.create(name="Lee", external_id="HH-LEE", filing_status="married_joint")
    template = make_template("transition", parameters={"transition": {"enabled": True, "max_net_gain_per_year": 50_000}})
    t = make_account("LEE-T", model=book["model"], household=household, holdings=[("AGG", 200, 10_000, date(2020, 1, 2))])
    o = make_account("LEE-O", model=book["model"], household=household, holdings=[("VTI", 100, 30_000, date(2026, 6, 1))])
    Account.objects.filter(pk=t.pk).update(template=template, short_term_rate=D("0.37"), long_term_rate=D("0.238"))
    [gain] = release(t, [sell("AGG", 200, 100.0, [("LEE-T-L1", 200)])], pm=pm, as_of=date(2026, 9, 1))
    [loss] = release(o, [sell("VTI", 100, 100.0, [("LEE-O-L1", 100)])], pm=pm, as_of=date(2026, 9, 1))
    executions_import(source=execution_csv(fill("LEE-1", gain, 200, "100", date(2026, 9, 1)),
                                           fill("LEE-2", loss, 100, "100", date(2026, 9, 1))),
                      actor="custodian feed", as_of=AS_OF)
    # when
    [row] = [r for r in transition(accounts=Account.objects.all(), as_of=AS_OF) if r.account_number == "LEE-T"]
    # then: the return nets -10,000 and deducts 3,000 with or without T's gain: T's sales cost nothing
    # (before: 10,000 x 23.8% = 2,380, as if T filed a return of its own)
    assert row.tax_spent == 0
    # and alone on the return, the gain costs its 2,380
    Account.objects.filter(pk=o.pk).update(household=Household.objects.create(name="Other", external_id="HH-OTH"))
    [row] = [r for r in transition(accounts=Account.objects.all(), as_of=AS_OF) if r.account_number == "LEE-T"]
    assert row.tax_spent == D("2380.00")
