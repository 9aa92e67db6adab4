"""Tax reports with hand-checked figures: realised gains (Form 8949 / Schedule D), harvest, transition."""

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

    assert realised_lots_csv(report).splitlines() == [
        "account_number,household,term,description,symbol,lot_id,quantity,date_acquired,date_purchased,date_sold,"
        "proceeds,cost_basis,code,adjustment,gain_or_loss",
        "A-1,HH-A-1,short,50 sh VTI,VTI,A-1-L2,50,2026-06-01,2026-06-01,2026-10-01,5000,6000,W,400,-600",
        "A-1,HH-A-1,long,70 sh VTI,VTI,A-1-L1,70,2020-01-02,2020-01-02,2026-10-20,7000,5600,,0,1400",
        "A-2,HH-A-1,long,100 sh BND,BND,A-2-L1,100,2025-01-02,2025-01-02,2026-11-02,8000,9000,,0,-1000",
    ]
    assert realised_totals_csv(report).splitlines()[1:] == [
        "account,A-1,Account A-1,5000,6000,400,-600,7000,5600,0,1400,800",
        "account,A-2,Account A-2,0,0,0,0,8000,9000,0,-1000,-1000",
        "household,HH-A-1,A-1 household,5000,6000,400,-600,15000,14600,0,400,-200",
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

    [row] = transition(accounts=Account.objects.all(), as_of=AS_OF)  # A-1 has no transition

    assert (row.account_number, row.drift_start, row.drift_now, round(row.progress, 6)) == ("L-1", 0.5, 0.2, 0.6)
    assert (row.market_value, row.legacy_value, row.legacy_gain, row.tax_spent) == (
        D("17000.00"), D("15000.00"), D("5000.00"), D(0))
    # 5,000 of net gain at 3,000 a year, taxed at 20%: 3,000 (600) this year, 2,000 (400) next.
    assert (row.budget, row.years_left) == (D(3000), 2)
    assert transition_csv([row]).splitlines()[1].endswith(",3000,5000,2,2026:3000:600:6000|2027:2000:400:0")
