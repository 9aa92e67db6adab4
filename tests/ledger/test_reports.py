"""Tax reports with hand-checked figures: realised gains (Form 8949 / Schedule D), harvest, transition."""

import csv
import io
from datetime import date
from decimal import Decimal as D

import pytest

from rebalancing.ledger.executions import executions_import
from rebalancing.ledger.reports import (
    harvest,
    harvest_csv,
    realised_gains,
    realised_lots_csv,
    realised_totals_csv,
    transition,
    transition_csv,
)
from rebalancing.models import Account, Proposal

from ..rebalancing.book import make_account, make_template
from ..rebalancing.workflow import make_proposal
from .helpers import buy, execution_csv, fill, release, sell

pytestmark = pytest.mark.django_db
AS_OF = date(2026, 11, 20)
YEAR = (date(2026, 1, 1), date(2026, 12, 31))
TRACKING = {"tracking_error_after": {"us_equity": 0.012, "bonds": None}}


def apply(*rows):
    executions_import(source=execution_csv(*rows), actor="t", as_of=AS_OF)


@pytest.fixture
def year_of_trading(book, pm):
    """A-1: a harvested short-term loss of 1,000 (400 of it washed by 20 VTI bought back) and a
    1,400 long-term gain. A-2, same household: a harvested long-term loss of 1,000."""
    a1 = book["account"]
    a2 = make_account("A-2", model=book["model"], household=a1.household,
                      holdings=[("BND", 100, 9000, date(2025, 1, 2))])
    [harvested] = release(a1, [sell("VTI", 50, 100.0, [("A-1-L2", 50)], reasons=("harvest",))], pm=pm,
                          as_of=date(2026, 10, 1), summary=TRACKING)
    apply(fill("S-1", harvested, 50, "100", date(2026, 10, 1)))
    [bought] = release(a1, [buy("VTI", 20, 102.0)], pm=pm, as_of=date(2026, 10, 15))
    apply(fill("B-1", bought, 20, "102", date(2026, 10, 15)))
    [trimmed] = release(a1, [sell("VTI", 70, 100.0, [("A-1-L1", 70)])], pm=pm, as_of=date(2026, 10, 20))
    apply(fill("S-2", trimmed, 70, "100", date(2026, 10, 20)))
    [bonds] = release(a2, [sell("BND", 100, 80.0, [("A-2-L1", 100)], reasons=("harvest", "drift"))], pm=pm,
                      as_of=date(2026, 11, 2))
    apply(fill("S-3", bonds, 100, "80", date(2026, 11, 2)))
    return a1, a2


def test_realised_gains_show_the_figures_of_form_8949_and_schedule_d(year_of_trading):
    report = realised_gains(accounts=Account.objects.all(), start=YEAR[0], end=YEAR[1])

    rows = list(csv.DictReader(io.StringIO(realised_lots_csv(report))))
    assert list(rows[0]) == [
        "account_number", "household", "term", "description", "symbol", "box", "schedule_d_line",
        "basis_reported_to_irs", "box_reason", "lot_id", "quantity", "date_acquired", "date_purchased", "date_sold",
        "proceeds", "cost_basis", "code", "adjustment", "gain_or_loss", "wash_sale_deferred", "wash_sale_lost_for_good",
        "spouse"]
    kept = [k for k in rows[0] if k != "box_reason"]
    assert [",".join(r[k] for k in kept) for r in rows] == [
        "A-1,HH-A-1,short,50 sh VTI,VTI,B,2,unknown,A-1-L2,50,2026-06-01,2026-06-01,2026-10-01,5000,6000,W,400,-600,400,0,",
        "A-1,HH-A-1,long,70 sh VTI,VTI,E,9,unknown,A-1-L1,70,2020-01-02,2020-01-02,2026-10-20,7000,5600,,0,1400,0,0,",
        "A-2,HH-A-1,long,100 sh BND,BND,E,9,unknown,A-2-L1,100,2025-01-02,2025-01-02,2026-11-02,8000,9000,,0,-1000,0,0,",
    ]
    # (lots from the custodian's file bought after the cut-off: whether the basis was reported is not known)
    assert all("custodian's lots file" in r["box_reason"] for r in rows)
    assert realised_totals_csv(report).splitlines()[1:] == [
        "account,A-1,Account A-1,5000,6000,400,-600,7000,5600,0,1400,800,400,0",
        "account,A-2,Account A-2,0,0,0,0,8000,9000,0,-1000,-1000,0,0",
        "household,HH-A-1,A-1 household,5000,6000,400,-600,15000,14600,0,400,-200,400,0",
    ]
    assert realised_gains(accounts=Account.objects.all(), start=date(2026, 10, 2), end=YEAR[1]).households[0].net == D(400)


def test_the_harvest_report_counts_losses_less_wash_sales_at_the_accounts_rates(year_of_trading):
    rows = harvest(accounts=Account.objects.all(), start=YEAR[0], end=YEAR[1])

    # 1,000 harvested, 400 washed; 600 x 37% = 222. A-2: 1,000 long-term x 20% = 200.
    assert harvest_csv(rows).splitlines() == [
        "account_number,period,harvested_losses,wash_sale_disallowed,net_harvested,tax_value,tracking_error",
        "A-1,2026-10,1000,400,600,222,0.012",
        "A-1,2026,1000,400,600,222,0.012",
        "A-2,2026-11,1000,0,1000,200,",
        "A-2,2026,1000,0,1000,200,",
    ]


def test_the_transition_report_projects_the_path_under_the_yearly_budget(book):
    template = make_template("transition", parameters={"transition": {"enabled": True, "max_net_gain_per_year": 3000}})
    account = make_account("L-1", model=book["model"], template=template, cash="1000", holdings=[
        ("SCHB", 400, 4000, date(2020, 1, 2)),  # legacy: 10,000 at 25, a 6,000 long-term gain
        ("AGG", 50, 6000, date(2020, 1, 2)),  # legacy: 5,000 at 100, a 1,000 loss
        ("VTI", 10, 900, date(2020, 1, 2)),  # in the model: 1,000
    ])
    first = make_proposal(account)
    Proposal.objects.filter(pk=first.pk).update(drift_before=0.5)
    latest = make_proposal(account, status=Proposal.Status.EXECUTED)
    Proposal.objects.filter(pk=latest.pk).update(drift_before=0.5, drift_after=0.2)

    Account.objects.filter(pk=account.pk).update(realised_ytd_year=AS_OF.year, realised_short_term_ytd=D("700"),
                                                 realised_long_term_ytd=D("300"))  # the accounts file said so

    [row] = transition(accounts=Account.objects.all(), as_of=AS_OF)  # A-1 has no transition

    assert (row.account_number, row.drift_start, row.drift_now, round(row.progress, 6)) == ("L-1", 0.5, 0.2, 0.6)
    assert (row.market_value, row.legacy_value, row.legacy_gain, row.tax_spent) == (
        D("17000.00"), D("15000.00"), D("5000.00"), D(0))
    # 5,000 of net gain at 3,000 a year, 1,000 of this year's used already, taxed at 20%: 2,000 (400)
    # this year, 3,000 (600) next.
    assert (row.budget, row.years_left, row.realised_this_year) == (D(3000), 2, D(1000))
    assert transition_csv([row]).splitlines()[1].endswith(",3000,1000,5000,2,2026:2000:400:9000|2027:3000:600:0")
    assert "budget_per_year,realised_this_year,legacy_gain" in transition_csv([row]).splitlines()[0]


def test_a_loss_replaced_in_the_households_ira_is_reported_lost_for_good(book, pm):
    # Rev. Rul. 2008-5: the IRA's purchase disallows the loss, which is added to no basis: the
    # report shows it in its own column and total, not as a deferral.
    a1 = book["account"]
    ira = make_account("IRA-1", model=book["model"], household=a1.household, holdings=[])
    Account.objects.filter(pk=ira.pk).update(tax_status="traditional")
    [harvested] = release(a1, [sell("VTI", 50, 100.0, [("A-1-L2", 50)], reasons=("harvest",))], pm=pm,
                          as_of=date(2026, 10, 1))
    apply(fill("S-1", harvested, 50, "100", date(2026, 10, 1)))
    [bought] = release(ira, [buy("VTI", 30, 101.0)], pm=pm, as_of=date(2026, 10, 10))
    apply(fill("B-1", bought, 30, "101", date(2026, 10, 10)))
    [resold] = release(ira, [sell("VTI", 30, 90.0, [("B-1", 30)])], pm=pm, as_of=date(2026, 10, 20))
    apply(fill("S-2", resold, 30, "90", date(2026, 10, 20)))

    report = realised_gains(accounts=Account.objects.all(), start=YEAR[0], end=YEAR[1])

    [row] = report.lots  # the IRA's own sale is not reportable
    assert (row.account_number, row.adjustment, row.lost, row.deferred, row.gain_or_loss) == (
        "A-1", D("600.00"), D("600.00"), D(0), D("-400.00"))
    [household] = report.households
    assert (household.short.adjustment, household.short.lost, household.short.deferred) == (D(600), D(600), D(0))
    assert realised_lots_csv(report).splitlines()[1].endswith(",W,600,-400,0,600,")  # one return: no spouse


def test_a_report_says_what_a_late_purchase_changed_in_its_period(year_of_trading, pm):
    a1, _ = year_of_trading
    before = realised_gains(accounts=Account.objects.all(), start=YEAR[0], end=YEAR[1])
    # B-1 (10-15) arrived after the harvest it washes: that sale's change is on record already.
    assert [c["after"] for r in before.recalculations for c in r.changes] == ["400.00"]
    [late] = release(a1, [buy("ITOT", 40, 51.0)], pm=pm, as_of=date(2026, 9, 25))
    apply(fill("B-0", late, 40, "51", date(2026, 9, 25)))  # dated before the harvest, reported late

    after = realised_gains(accounts=Account.objects.all(), start=YEAR[0], end=YEAR[1])

    recalculation = after.recalculations[0]  # the newest first
    assert len(after.recalculations) == 2 and recalculation.trigger == "executions from csv"
    assert {"account": "A-1", "lot_id": "A-1-L2", "sold": "2026-10-01", "field": "disallowed_loss",
            "before": "400.00", "after": "1000.00"} in recalculation.changes
    # A period that holds none of the changed sales shows nothing.
    assert realised_gains(accounts=Account.objects.all(), start=date(2026, 11, 1), end=YEAR[1]).recalculations == []


def test_schedule_d_per_household_carries_the_loss_past_the_limit_into_the_next_year(book, pm):
    from rebalancing.ledger.reports import schedule_d_csv, schedules_d
    from rebalancing.models import Household

    household = book["account"].household
    Household.objects.filter(pk=household.pk).update(carryforward_year=2026, carryforward_short_term=D(2500),
                                                      carryforward_long_term=D(1000), filing_status="married_separate")
    [harvested] = release(book["account"], [sell("VTI", 50, 100.0, [("A-1-L2", 50)], reasons=("harvest",))], pm=pm,
                          as_of=date(2026, 10, 1))
    apply(fill("S-1", harvested, 50, "100", date(2026, 10, 1)))  # a 1,000 short-term loss

    # (Every account is the first spouse's: the second spouse's return is empty.)
    [sheet, second] = schedules_d(households=Household.objects.all(), year=2026)
    assert (sheet.spouse, second.spouse, second.sheet.net, second.sheet.carried_out_short) == ("first", "second", 0, 0)
    # Line 7: -1,000 - 2,500 = -3,500; line 15: -1,000; line 16: -4,500. Married filing separately:
    # 1,500 deducted, taken from the short-term loss first; 2,000 short-term and 1,000 long-term go on.
    s = sheet.sheet
    assert (s.net_short, s.net_long, s.net, s.deduction) == (D(-3500), D(-1000), D(-4500), D(1500))
    assert (s.carried_out_short, s.carried_out_long) == (D(2000), D(1000))
    [next_year, _] = schedules_d(households=Household.objects.all(), year=2027)
    assert (next_year.sheet.carried_in_short, next_year.sheet.carried_in_long) == (D(2000), D(1000))
    assert [e.year for e in next_year.earlier] == [2026]
    assert schedule_d_csv([sheet]).splitlines()[1] == (
        "HH-A-1,A-1 household,Married filing separately,first,2026,-1000,0,2500,-3500,0,0,1000,-1000,-4500,1500,1500,"
        "0,0,2000,1000,0,0")


def test_the_engine_nets_a_proposals_gains_against_the_households_carried_loss(book):
    from rebalancing.engine_inputs import rebalance_inputs_load
    from rebalancing.models import Household

    Household.objects.filter(pk=book["account"].household_id).update(
        carryforward_year=AS_OF.year, carryforward_short_term=D(700), carryforward_long_term=D(300))
    [inputs] = rebalance_inputs_load([book["account"].pk], as_of=AS_OF)
    [household] = inputs.request.account.tax_returns
    assert (household.carried_short, household.carried_long, household.share) == (700, 300, 1)


def test_a_households_carried_loss_is_netted_once_by_its_taxable_accounts_not_by_each(book):
    from rebalancing.engine.tax import runs_tax
    from rebalancing.engine_inputs import rebalance_inputs_load
    from rebalancing.models import Account, Household
    from tests.rebalancing.book import make_account

    household = Household.objects.get(pk=book["account"].household_id)
    Household.objects.filter(pk=household.pk).update(
        carryforward_year=AS_OF.year, carryforward_short_term=D(700), carryforward_long_term=D(300))
    # given: a second taxable account and an IRA in the household (one Schedule D for all three)
    joint = make_account("A-2", model=book["model"], household=household, holdings=[("VTI", 10, 900, date(2020, 1, 2))])
    ira = make_account("A-3", model=book["model"], household=household)
    Account.objects.filter(pk=ira.pk).update(tax_status=Account.TaxStatus.TRADITIONAL)
    # when: each account's proposal is solved
    requests = {i.request.account.id: i.request.account
                for i in rebalance_inputs_load([book["account"].pk, joint.pk, ira.pk], as_of=AS_OF)}
    # then: the two taxable accounts see the one return with its whole loss, and the IRA none
    carried = {n: [(r.id, r.carried_short, r.carried_long) for r in a.tax_returns] for n, a in requests.items()}
    assert carried == {"A-1": [("household", 700, 300)], "A-2": [("household", 700, 300)], "A-3": []}
    # and gains of 1,000 short-term in each, solved one after the other: the return deducted its
    # 1,000 carried (700 + 300) from ordinary income; after the first, 300 short-term against 300
    # long-term is nothing (1,000 x the rate more); after the second, 1,000 short-term of gain
    # (1,000 x the rate more again): the loss is used once, not once by each account
    rate = requests["A-1"].short_term_rate
    tax = runs_tax([(requests["A-1"], 1_000.0, 0.0), (requests["A-2"], 1_000.0, 0.0)])
    assert tax == {"A-1": pytest.approx(1_000 * rate), "A-2": pytest.approx(1_000 * rate)}


def test_each_accounts_transition_settings_follow_its_own_layers(book):
    """Accounts sharing a template and overrides share their settings (merged once); any layer that
    differs - the template, the household's overrides, the account's - gives the account its own,
    as ``account_parameters`` of each account alone says."""
    from rebalancing.models import Household
    from rebalancing.selectors import account_parameters

    three = make_template("t3", parameters={"transition": {"enabled": True, "max_net_gain_per_year": 3000}})
    seven = make_template("t7", parameters={"transition": {"enabled": True, "max_net_gain_per_year": 7000}})
    legacy = [("SCHB", 400, 4000, date(2020, 1, 2))]
    made = {n: make_account(n, model=book["model"], template=t, holdings=legacy, overrides=o) for n, t, o in (
        ("L-1", three, None), ("L-2", three, {"transition": {"max_net_gain_per_year": 1000}}),
        ("L-3", three, {"transition": {"enabled": False}}), ("L-4", three, None), ("L-5", three, None),
        ("L-6", seven, None), ("L-7", three, {"transition": {"max_net_gain_per_year": 1000}}))}
    Household.objects.filter(pk__in=[made["L-4"].household_id, made["L-5"].household_id]).update(
        overrides={"transition": {"max_net_gain_per_year": 2000}})
    Account.objects.filter(pk=made["L-5"].pk).update(overrides={"transition": {"max_net_gain_per_year": 500}})

    rows = {r.account_number: r.budget for r in transition(accounts=Account.objects.all(), as_of=AS_OF)}

    assert rows == {"L-1": D(3000), "L-2": D(1000), "L-4": D(2000), "L-5": D(500), "L-6": D(7000), "L-7": D(1000)}
    for account in Account.objects.select_related("household", "template", "household__template"):
        alone = account_parameters(account, firm_substitutes={}).values["transition"]
        assert (account.custodian_number in rows) == alone["enabled"]
        if alone["enabled"]:
            assert rows[account.custodian_number] == D(str(alone["max_net_gain_per_year"]))


def test_the_transition_report_reads_each_households_filing_history_once_whatever_its_accounts(book, pm):
    # The tax each account's sales this year cost is figured on the year's returns, whose filing
    # status is the year's (``Household.filing_status_in``): read for all households in one query,
    # not once per account (a 10,000-account book's CSV has every row).
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from rebalancing.models import Execution, Household, RealisedLot, Security

    [order] = release(book["account"], [sell("VTI", 1, 100.0, [("A-1-L1", 1)])], pm=pm, as_of=date(2026, 3, 2))
    apply(fill("T-X", order, 1, "100", date(2026, 3, 2)))
    execution, vti = Execution.objects.get(external_id="T-X"), Security.objects.get(symbol="VTI")
    template = make_template("transition", parameters={"transition": {"enabled": True}})

    def queries_for(n: int) -> int:
        household = Household.objects.create(name=f"T-{n}", external_id=f"HH-T-{n}", template=template)
        for i in range(n):
            account = make_account(f"T-{n}-{i}", model=book["model"], template=template, household=household,
                                   holdings=[("SCHB", 10, 100, date(2020, 1, 2))])
            RealisedLot.objects.create(account=account, execution=execution, lot_id=f"T-{n}-{i}-L", security=vti,
                                       quantity=1, proceeds=D(150), cost_basis=D(100), gain=D(50), term="long",
                                       acquired=date(2020, 1, 2), purchased=date(2020, 1, 2), sold=date(2026, 3, 2))
        accounts = Account.objects.filter(custodian_number__startswith=f"T-{n}-")
        with CaptureQueriesContext(connection) as captured:
            rows = transition(accounts=accounts, as_of=AS_OF)
        assert len(rows) == n and all(r.tax_spent > 0 for r in rows)
        return len(captured)

    assert queries_for(2) == queries_for(6)
