"""A withdrawal's money leaves the household once its sales have executed (``services.payouts``):
through the real release and the custodian's fills, never before, never twice, never overdrawn."""

import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django_tenants.utils import tenant_context

from rebalancing.ledger.executions import executions_apply
from rebalancing.models import (
    Account,
    CashFlow,
    HouseholdProposal,
    Order,
    Proposal,
    RebalanceRun,
    RunOutcome,
    Security,
    TaxLot,
)
from rebalancing.selectors import RunScope
from rebalancing.services.cash_flows import cash_flow_enter
from rebalancing.services.payouts import payout_of
from rebalancing.services.proposals import household_proposal_decide, proposal_release
from rebalancing.services.rmd import rmd_due
from rebalancing.services.runs import run_chunks, run_process_chunk, run_start
from tenants.audit.models import AuditEvent
from tenants.roles import FirmRole

from .book import AS_OF
from .test_cash_flows import lees as lees_base  # noqa: F401

pytestmark = pytest.mark.django_db

FILLED_ON = AS_OF + timedelta(days=1)


@pytest.fixture
def lees(lees_base, firm_a, firm_user):  # noqa: F811
    pm = firm_user(firm_a, "pm@payout.example", FirmRole.PORTFOLIO_MANAGER)
    with tenant_context(firm_a):
        yield {**lees_base, "pm": pm}


def _cash() -> dict[str, Decimal]:
    return dict(Account.objects.values_list("custodian_number", "cash"))


def _approve_and_release(lees, flow: CashFlow) -> None:
    household_proposal_decide(household_proposal=HouseholdProposal.objects.get(run=flow.run), user=lees["advisor"],
                              approve=True)
    for p in Proposal.objects.filter(run=flow.run).order_by("pk"):
        proposal_release(proposal=p, user=lees["pm"], today=AS_OF)


def _fill(flow: CashFlow, *, price_factor=Decimal(1), cancel: set[str] = frozenset(), tag="F") -> None:
    records = []
    for o in Order.objects.filter(proposal__run=flow.run).select_related("security"):
        if o.security.symbol in cancel:
            records.append({"external_id": f"{tag}{o.pk}", "order_id": o.order_id, "kind": "cancel",
                            "quantity": None, "price": None, "trade_date": FILLED_ON.isoformat()})
        else:
            records.append({"external_id": f"{tag}{o.pk}", "order_id": o.order_id, "kind": "fill",
                            "quantity": o.quantity, "price": (o.reference_price * price_factor).quantize(Decimal("0.01")),
                            "trade_date": FILLED_ON.isoformat()})
    executions_apply(records=records, actor="custodian feed", as_of=FILLED_ON)


def _statuses(flow: CashFlow) -> dict[str, str]:
    return {p.account.custodian_number: p.status for p in Proposal.objects.filter(run=flow.run).select_related("account")}


def test_a_withdrawal_is_paid_out_as_its_sales_execute_and_the_next_run_does_not_invest_it(lees):
    before = _cash()
    flow = cash_flow_enter(user=lees["advisor"], household=lees["household"], kind="withdrawal",
                           amount=Decimal("10000"), as_of=AS_OF).cash_flow
    planned = flow.plan["distributions"]
    # The joint account's cash, then the loss lot of VNQ: 89 whole shares raise 8,010, of which 8,000 leaves.
    assert planned == {"LEE-JT": 2000.0, "LEE-TR": 8000.0}
    _approve_and_release(lees, flow)

    # The joint account's part is its cash: nothing to fill, so it is done at release and paid at once.
    assert _statuses(flow) == {"LEE-JT": Proposal.Status.EXECUTED, "LEE-TR": Proposal.Status.RELEASED}
    flow.refresh_from_db()
    assert flow.paid == {"LEE-JT": "2000.00"}
    assert _cash()["LEE-JT"] == before["LEE-JT"] - 2000 and _cash()["LEE-TR"] == before["LEE-TR"]

    _fill(flow)  # the custodian fills the VNQ sale at its planned price: 8,010 comes in and goes out
    assert _statuses(flow)["LEE-TR"] == Proposal.Status.EXECUTED
    flow.refresh_from_db()
    assert flow.paid == {"LEE-JT": "2000.00", "LEE-TR": "8000.00"}
    assert _cash() == {**before, "LEE-JT": Decimal("0.00"), "LEE-TR": Decimal("10.00")}  # the 10 left over stays
    paid = AuditEvent.objects.filter(action="cash_flow.pay").order_by("pk")
    assert [e.after["paid"] for e in paid] == ["2000.00", "8000.00"]

    # The household is no longer held back, and its run sees the money gone: nothing bought with it.
    run = run_start(scope=RunScope(household_id=lees["household"].pk), as_of=FILLED_ON, label="nightly")
    for chunk in run_chunks(run):
        run_process_chunk(run_id=run.pk, account_ids=chunk)
    assert not RunOutcome.objects.filter(run=run, code__in=("cash_flow_pending", "orders_open")).exists()
    for p in Proposal.objects.filter(run=run, account__custodian_number__in=("LEE-JT", "LEE-TR")):
        assert p.result["summary"]["cash_before"] == (10 if p.account.custodian_number == "LEE-TR" else 0)
    # And the next withdrawal may be entered.
    assert cash_flow_enter(user=lees["advisor"], household=lees["household"], kind="withdrawal",
                           amount=Decimal("100"), as_of=FILLED_ON).cash_flow.run.kind == RebalanceRun.Kind.CASH_FLOW


def test_a_sale_that_raises_less_pays_what_it_raised_and_the_rmd_counts_what_was_paid(lees):
    from .test_rmd import _facts

    ira = _facts(lees)  # owes 4,219.41 this year
    Account.objects.filter(pk=ira.pk).update(cash=0)  # the RMD must be raised by selling
    TaxLot.objects.create(account_id=ira.pk, lot_id="IRA-1", security=Security.objects.get(symbol="VTI"),
                          quantity=100, cost_basis=9000, acquired=AS_OF - timedelta(days=900))
    flow = cash_flow_enter(user=lees["advisor"], household=lees["household"], kind="rmd", amount=None,
                           account=ira, as_of=AS_OF).cash_flow
    planned = Decimal(str(flow.plan["distributions"]["LEE-IRA"])).quantize(Decimal("0.01"))
    assert planned >= Decimal("4219.41")
    _approve_and_release(lees, flow)
    _fill(flow, price_factor=Decimal("0.9"))  # filled 10% below the price it was planned at
    flow.refresh_from_db()
    raised = Account.objects.get(pk=ira.pk).cash + Decimal(flow.paid["LEE-IRA"])
    assert Decimal(flow.paid["LEE-IRA"]) == raised < planned and Account.objects.get(pk=ira.pk).cash == 0
    due = rmd_due(account=ira, year=AS_OF.year)
    assert due.distributed == raised and due.remaining == Decimal("4219.41") - raised  # what left, not the plan
    event = AuditEvent.objects.get(action="cash_flow.pay")
    assert "short of the" in event.comment and "its sales raised less" in event.comment


def test_an_rmd_paid_out_in_the_next_year_counts_for_that_year_not_the_year_it_was_planned_in(lees):
    from rebalancing.services.rmd import rmd_open_for_account

    from .test_rmd import _facts

    # Given an owner who owes 4,219.41 this year (100,000 on 31 December last year / 23.7), and an
    # RMD planned for it on 20 November, taken from the IRA's cash (paid out at release)
    _facts(lees, today=date(AS_OF.year + 1, 2, 1))
    ira = _facts(lees, value="110000", year=AS_OF.year, today=date(AS_OF.year + 1, 2, 1))
    flow = cash_flow_enter(user=lees["advisor"], household=lees["household"], kind="rmd", amount=None,
                           account=ira, as_of=AS_OF).cash_flow
    _approve_and_release(lees, flow)
    flow.refresh_from_db()
    assert flow.paid == {"LEE-IRA": "4219.41"}
    executed = Proposal.objects.filter(run=flow.run, status=Proposal.Status.EXECUTED)
    # When it was paid on 30 December: it is this year's
    executed.update(status_changed_at=datetime(AS_OF.year, 12, 30, 15, tzinfo=UTC))
    assert rmd_due(account=ira, year=AS_OF.year).distributed == Decimal("4219.41")
    # When it was paid on 4 January (its release waited): it is next year's, and this year's is missed
    # (a distribution is of the year it is made in, Treas. Reg. §1.401(a)(9)-5, Q&A-1; IRC §4974)
    executed.update(status_changed_at=datetime(AS_OF.year + 1, 1, 4, 15, tzinfo=UTC))
    this_year = rmd_due(account=ira, year=AS_OF.year)
    assert (this_year.distributed, this_year.remaining) == (0, Decimal("4219.41"))
    assert rmd_due(account=ira, year=AS_OF.year + 1).distributed == Decimal("4219.41")
    [missed] = [line for line in rmd_open_for_account(ira, as_of=date(AS_OF.year + 1, 1, 5)) if line.missed]
    assert (missed.year, missed.shortfall, missed.excise) == (AS_OF.year, Decimal("4219.41"), Decimal("1054.85"))


def test_an_rmd_raised_by_sales_counts_on_the_day_they_filled_not_the_day_the_fills_were_read(lees):
    from .test_rmd import _facts

    # Given an RMD raised by selling the IRA's VTI, filled on 21 November
    ira = _facts(lees)
    Account.objects.filter(pk=ira.pk).update(cash=0)
    TaxLot.objects.create(account_id=ira.pk, lot_id="IRA-1", security=Security.objects.get(symbol="VTI"),
                          quantity=100, cost_basis=9000, acquired=AS_OF - timedelta(days=900))
    flow = cash_flow_enter(user=lees["advisor"], household=lees["household"], kind="rmd", amount=None,
                           account=ira, as_of=AS_OF).cash_flow
    _approve_and_release(lees, flow)
    _fill(flow)
    flow.refresh_from_db()
    # When the fills were read, and the proposal executed, only on 4 January
    Proposal.objects.filter(run=flow.run, status=Proposal.Status.EXECUTED).update(
        status_changed_at=datetime(AS_OF.year + 1, 1, 4, 15, tzinfo=UTC))
    # Then what was paid is the year of the fills' trades
    assert rmd_due(account=ira, year=AS_OF.year).distributed == Decimal(flow.paid["LEE-IRA"]) == Decimal("4219.41")
    assert rmd_due(account=ira, year=AS_OF.year + 1).distributed == 0


def test_an_rmd_planned_in_the_year_but_still_waiting_after_it_leaves_that_years_rmd_missed(lees):
    from rebalancing.services.rmd import rmd_open_for_account

    from .test_rmd import _facts

    # Given this year's RMD of 4,219.41 planned on 20 November and never decided
    _facts(lees, today=date(AS_OF.year + 1, 2, 1))
    ira = _facts(lees, value="110000", year=AS_OF.year, today=date(AS_OF.year + 1, 2, 1))
    cash_flow_enter(user=lees["advisor"], household=lees["household"], kind="rmd", amount=None, account=ira,
                    as_of=AS_OF)
    # Then in December it is planned: nothing is open for the year
    assert [line.remaining for line in rmd_open_for_account(ira, as_of=date(AS_OF.year, 12, 20))] == [0]
    # When read on 5 January it still waits: nothing left the IRA last year, whose RMD is missed with
    # its excise (IRC §4974), and the plan, paid this year at the earliest, counts for this year's
    missed, this_year = rmd_open_for_account(ira, as_of=date(AS_OF.year + 1, 1, 5))
    assert (missed.year, missed.missed, missed.shortfall, missed.excise) == (
        AS_OF.year, True, Decimal("4219.41"), Decimal("1054.85"))
    assert (this_year.year, this_year.distributed) == (AS_OF.year + 1, Decimal("4219.41"))


@pytest.mark.parametrize("seed", range(3))
def test_the_year_a_distribution_counts_for_matches_a_plain_reading_over_random_histories(lees, seed):
    from .test_rmd import _facts

    # Given RMDs planned on random days of late November, each left waiting, rejected, or paid out
    # on a random day up to 60 days later (some in the next year)
    rng = random.Random(seed)
    _facts(lees, today=date(AS_OF.year + 1, 2, 1))
    ira = _facts(lees, value="110000", year=AS_OF.year, today=date(AS_OF.year + 1, 2, 1))
    from rebalancing.services.rmd import _lines

    counted: dict[int, Decimal] = {AS_OF.year: Decimal(0), AS_OF.year + 1: Decimal(0)}
    read_on = date(AS_OF.year + 1, 2, 1)  # after every payout: one still waiting is paid on it at the earliest
    counted_on_read = dict(counted)
    for k in range(8):
        planned_on = AS_OF + timedelta(days=rng.randrange(0, 10))
        amount = Decimal(rng.randrange(1000, 50000)) / 100
        flow = cash_flow_enter(user=lees["advisor"], household=lees["household"], kind="rmd", amount=amount,
                               account=ira, as_of=planned_on, reference=f"R-{k}").cash_flow
        fate = rng.choice(["waiting", "rejected", "paid"])
        if fate == "rejected":
            household_proposal_decide(household_proposal=HouseholdProposal.objects.get(run=flow.run),
                                      user=lees["advisor"], approve=False, comment="not now")
            continue
        day = planned_on
        if fate == "paid":
            _approve_and_release(lees, flow)
            day = planned_on + timedelta(days=rng.randrange(0, 61))
            Proposal.objects.filter(run=flow.run).update(
                status_changed_at=datetime(day.year, day.month, day.day, 12, tzinfo=UTC))
        # Then (the plain reading) it counts for the year it was paid in, or planned in while it waits
        counted[day.year] += amount
        counted_on_read[(day if fate == "paid" else read_on).year] += amount
    for year, total in counted.items():
        assert rmd_due(account=ira, year=year).distributed == total, (seed, year)
        [line] = _lines([Account.objects.get(pk=ira.pk)], year, read_on)
        assert line.distributed == counted_on_read[year], (seed, year)


def test_a_cancelled_sale_pays_nothing_it_did_not_raise(lees):
    before = _cash()
    flow = cash_flow_enter(user=lees["advisor"], household=lees["household"], kind="withdrawal",
                           amount=Decimal("10000"), as_of=AS_OF).cash_flow
    _approve_and_release(lees, flow)
    _fill(flow, cancel={"VNQ"})  # the custodian could not sell it
    flow.refresh_from_db()
    assert _statuses(flow)["LEE-TR"] == Proposal.Status.EXECUTED  # every order closed
    assert flow.paid == {"LEE-JT": "2000.00", "LEE-TR": "0.00"}
    assert _cash()["LEE-TR"] == before["LEE-TR"] == 0  # never overdrawn


def test_executing_again_pays_nothing_twice(lees):
    from rebalancing.services.payouts import cash_flow_pay

    flow = cash_flow_enter(user=lees["advisor"], household=lees["household"], kind="withdrawal",
                           amount=Decimal("10000"), as_of=AS_OF).cash_flow
    _approve_and_release(lees, flow)
    _fill(flow)
    after = _cash()
    for p in Proposal.objects.filter(run=flow.run):
        assert cash_flow_pay(p, actor="test") is None
    _fill(flow)  # the same fills sent again change nothing
    assert _cash() == after and AuditEvent.objects.filter(action="cash_flow.pay").count() == 2


def test_a_rebalance_proposal_released_with_no_order_is_executed_at_once_and_pays_nothing(lees):
    from .workflow import make_proposal

    proposal = make_proposal(lees["roth"], status=Proposal.Status.APPROVED, as_of=AS_OF)
    proposal.result = {"trades": [{"symbol": "VTI", "side": "buy", "quantity": 0, "price": 100, "value": 0,
                                   "reasons": ["drift"], "lots": []}], "summary": {}}
    proposal.save(update_fields=["result"])
    before = _cash()
    released = proposal_release(proposal=proposal, user=lees["pm"], today=AS_OF)
    assert released.status == Proposal.Status.EXECUTED and not released.orders.exists()
    assert _cash() == before and not AuditEvent.objects.filter(action="cash_flow.pay").exists()


def test_the_payout_rule_matches_a_plain_statement_over_random_amounts():
    rng = random.Random(7)
    for _ in range(2000):
        planned, raised = (Decimal(rng.randint(0, 10**9)) / 100 for _ in range(2))
        cash = Decimal(rng.randint(-10**6, 10**9)) / 100
        smallest = sorted([planned, raised, cash])[0]
        expected = smallest if smallest > 0 else Decimal(0)
        assert payout_of(planned, raised, cash) == expected


def test_a_deposit_that_came_in_meanwhile_is_not_paid_out_for_a_cancelled_sale(lees):
    flow = cash_flow_enter(user=lees["advisor"], household=lees["household"], kind="withdrawal",
                           amount=Decimal("10000"), as_of=AS_OF).cash_flow
    _approve_and_release(lees, flow)
    Account.objects.filter(custodian_number="LEE-TR").update(cash=Decimal("9000"))  # money arrives meanwhile
    _fill(flow, cancel={"VNQ"})  # the sale that was to raise the 8,000 never happens
    flow.refresh_from_db()
    assert flow.paid["LEE-TR"] == "0.00" and _cash()["LEE-TR"] == Decimal("9000")  # the deposit stays
