"""A sale is realised on its trade date (Pub. 550): a proposal priced in one tax year and released in
the next would put its sales on the next year's return, netted with that year's results, while its
estimate (and the household's tax budget) netted them with the run's year - a December harvest meant
to offset the year's gains would offset none. Its release expires it, as the nightly expiry does;
an IRA's sales, and buys alone, have no tax year to miss."""

from datetime import date

import pytest

from rebalancing.models import HouseholdProposal, Order, Proposal, RebalanceRun
from rebalancing.services.lot_terms import tax_year_passed
from rebalancing.services.proposals import proposal_release, proposals_expire_stale
from tenants.audit.models import AuditEvent
from tenants.errors import Conflict

from ..rebalancing.book import make_account
from ..rebalancing.household_book import make_unit_household
from ..rebalancing.workflow import make_proposal, policy

pytestmark = pytest.mark.django_db

DECEMBER = date(2025, 12, 31)
JANUARY = date(2026, 1, 2)  # two days later: the prices are fresh enough, the year is not
S = Proposal.Status

HARVEST = {"symbol": "VTI", "side": "sell", "quantity": 50, "price": 100.0, "value": 5000.0, "reasons": ["harvest"],
           "lots": [{"lot_id": "A-1-L2", "quantity": 50, "proceeds": 5000.0, "cost_basis": 6000.0, "gain": -1000.0,
                     "term": "short"}]}
BUY = {"symbol": "BND", "side": "buy", "quantity": 10, "price": 80.0, "value": 800.0, "reasons": ["drift"]}


def approved(account, trades, as_of=DECEMBER, status=S.APPROVED) -> Proposal:
    proposal = make_proposal(account, status=status, as_of=as_of)
    proposal.result = {"trades": trades, "summary": {}}
    proposal.save(update_fields=["result"])
    return proposal


@pytest.fixture(autouse=True)
def fresh_enough(book):
    policy(max_price_age_days=3)


def test_a_december_harvest_released_in_january_expires_saying_which_years_and_sends_nothing(book, pm):
    proposal = approved(book["account"], [HARVEST, BUY])

    with pytest.raises(Conflict) as refused:
        proposal_release(proposal=proposal, user=pm, today=JANUARY)

    assert refused.value.code == "tax_year_changed"
    assert refused.value.detail == {"priced_for": 2025, "released_in": 2026}
    assert ("its run (2025-12-31) estimated the tax of its sales on the 2025 return, but sold from 2026-01-02 "
            "they are realised in 2026") in refused.value.message
    assert Proposal.objects.get(pk=proposal.pk).status == S.EXPIRED
    assert not Order.objects.exists()
    assert "priced for tax year 2025, released in 2026" in AuditEvent.objects.get(action="proposal.expire").comment


def test_released_in_its_own_year_it_goes_out(book, pm):
    proposal = approved(book["account"], [HARVEST], as_of=date(2025, 12, 30))

    proposal_release(proposal=proposal, user=pm, today=DECEMBER)

    assert Proposal.objects.get(pk=proposal.pk).status == S.RELEASED


@pytest.mark.parametrize("what", ["ira_sells", "taxable_buys_only"])
def test_an_iras_sales_and_buys_alone_are_released_across_the_year(book, pm, what):
    if what == "ira_sells":
        account = make_account("IRA-1", model=book["model"], template=book["template"],
                               holdings=[("VTI", 50, 6000, date(2025, 6, 2))])
        account.tax_status = "traditional"
        account.save(update_fields=["tax_status"])
        account.refresh_from_db()
        trades = [{**HARVEST, "lots": [{**HARVEST["lots"][0], "lot_id": "IRA-1-L1"}]}]
    else:
        account, trades = book["account"], [BUY]
    proposal = approved(account, trades)

    assert not tax_year_passed(proposal, JANUARY)
    proposal_release(proposal=proposal, user=pm, today=JANUARY)
    assert Proposal.objects.get(pk=proposal.pk).status == S.RELEASED


def test_the_nightly_expiry_takes_last_years_open_sales_and_their_households_other_legs(book):
    pending = approved(book["account"], [HARVEST], status=S.PENDING)
    buys_only = approved(make_account("A-9", model=book["model"], template=book["template"], cash="5000"), [BUY])
    lees = make_unit_household()
    run = RebalanceRun.objects.create(scope={"firm": True}, as_of=DECEMBER, total=3)
    group = HouseholdProposal.objects.create(run=run, household=lees["household"], result={})
    legs = {key: Proposal.objects.create(run=run, account=lees[key], status=S.APPROVED, parameters={},
                                         inputs_fingerprint="f" * 64, trade_count=1, household_proposal=group,
                                         result={"trades": trades, "summary": {}})
            for key, trades in (("joint", [HARVEST]), ("ira", [BUY]), ("roth", [BUY]))}
    this_year = approved(make_account("A-8", model=book["model"], template=book["template"],
                                      holdings=[("VTI", 50, 6000, date(2025, 6, 2))]), [HARVEST], as_of=JANUARY)

    expired = proposals_expire_stale(today=JANUARY)

    status = {p.pk: p.status for p in Proposal.objects.all()}
    assert expired == 4
    assert status[pending.pk] == status[legs["joint"].pk] == status[legs["ira"].pk] == status[legs["roth"].pk] \
        == S.EXPIRED
    assert status[buys_only.pk] == status[this_year.pk] == S.APPROVED
    assert AuditEvent.objects.filter(action="proposal.expire", comment__contains="tax year that has ended").count() == 4


def test_whether_the_year_passed_is_the_calendar_year_of_the_two_days_over_many_days(book):
    proposal = approved(book["account"], [HARVEST])
    for run_day, day in [(date(2025, 1, 1), date(2025, 12, 31)), (date(2025, 12, 31), date(2026, 1, 1)),
                         (date(2024, 6, 30), date(2026, 6, 30)), (date(2026, 1, 1), date(2026, 1, 1))]:
        RebalanceRun.objects.filter(pk=proposal.run_id).update(as_of=run_day)
        proposal.refresh_from_db()
        proposal.run.refresh_from_db()
        assert tax_year_passed(proposal, day) is (day.year > run_day.year)
