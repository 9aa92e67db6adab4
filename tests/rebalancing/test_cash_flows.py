"""A household's deposits, withdrawals and RMDs: the engine's plan_withdrawal chooses which account
and lots fund it, its sales become proposals decided together, a deposit is invested by a run."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import (
    Account,
    CashFlow,
    HouseholdProposal,
    Proposal,
    RebalanceRun,
    Security,
    TradeRecord,
)
from rebalancing.services.cash_flows import cash_flow_enter
from rebalancing.services.proposals import household_proposal_decide
from tenants.audit.models import AuditEvent
from tenants.errors import NotFound, ValidationFailed
from tenants.roles import FirmRole

from .book import AS_OF, make_account
from .household_book import make_unit_household
from .workflow import policy

pytestmark = pytest.mark.django_db


@pytest.fixture
def lees(firm_a, firm_user):
    advisor = firm_user(firm_a, "adv@cf.example", FirmRole.ADVISOR)
    colleague = firm_user(firm_a, "col@cf.example", FirmRole.ADVISOR)
    with tenant_context(firm_a):
        policy(auto_approve=False, max_price_age_days=3650, compliance_min_turnover=10, compliance_min_estimated_tax=10**9)
        made = make_unit_household(advisor=advisor)
        # A second taxable account with a loss lot and a short-term gain lot: losses are sold first.
        made["loss"] = make_account("LEE-TR", model=None, household=made["household"], cash="0", holdings=[
            ("VNQ", 100, 12000, date(2024, 1, 5)),  # 9,000 now: a 3,000 long-term loss
            ("VTI", 50, 4000, AS_OF - timedelta(days=40))])  # 5,000 now: a 1,000 short-term gain
        yield {**made, "advisor": advisor, "colleague": colleague}


def _sold(flow: CashFlow) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for p in Proposal.objects.filter(run=flow.run).select_related("account"):
        out[p.account.custodian_number] = {t["symbol"] for t in p.result["trades"]}
    return out


def test_a_withdrawal_is_funded_cash_first_then_losses_and_becomes_proposals_decided_together(lees):
    entered = cash_flow_enter(user=lees["advisor"], household=lees["household"], kind="withdrawal",
                              amount=Decimal("10000"), as_of=AS_OF, reference="W-1")

    flow = entered.cash_flow
    assert entered.created and flow.run.kind == RebalanceRun.Kind.CASH_FLOW
    # The joint account's 2,000 of cash goes first, then the loss lot of VNQ, never the gains.
    assert flow.plan["cash_used"].get("LEE-JT") == pytest.approx(2000)
    assert _sold(flow).get("LEE-TR") == {"VNQ"}
    assert flow.tax_cost < 0  # realising a loss saves tax: the tax cost of the choice is shown
    together = HouseholdProposal.objects.get(run=flow.run)
    proposals = list(Proposal.objects.filter(household_proposal=together))
    assert proposals and {p.status for p in proposals} == {Proposal.Status.PENDING}
    assert all("cash" in t["reasons"] and t["side"] == "sell" for p in proposals for t in p.result["trades"])

    household_proposal_decide(household_proposal=together, user=lees["advisor"], approve=True)
    assert set(Proposal.objects.filter(household_proposal=together).values_list("status", flat=True)) == {"approved"}
    assert AuditEvent.objects.filter(action="cash_flow.create", object_id=str(lees["household"].pk)).count() == 1

    again = cash_flow_enter(user=lees["advisor"], household=lees["household"], kind="withdrawal",
                            amount=Decimal("10000"), as_of=AS_OF, reference="W-1")
    assert not again.created and CashFlow.objects.count() == 1 and RebalanceRun.objects.filter(
        kind=RebalanceRun.Kind.CASH_FLOW).count() == 1


def test_a_withdrawal_never_sells_at_a_loss_what_the_household_just_bought(lees):
    vnq = Security.objects.get(symbol="VNQ")
    TradeRecord.objects.create(account=lees["ira"], security=vnq, side="buy", quantity=1, price=90,
                               trade_date=AS_OF - timedelta(days=5))
    flow = cash_flow_enter(user=lees["advisor"], household=lees["household"], kind="withdrawal",
                           amount=Decimal("5000"), as_of=AS_OF).cash_flow
    assert "VNQ" not in _sold(flow).get("LEE-TR", set())  # its loss would be washed by the IRA's purchase


def test_an_rmd_comes_from_the_traditional_ira_and_is_taxed_as_ordinary_income(lees):
    flow = cash_flow_enter(user=lees["advisor"], household=lees["household"], kind="rmd", amount=Decimal("4000"),
                           account=lees["ira"], as_of=AS_OF).cash_flow
    assert set(flow.plan["distributions"]) == {"LEE-IRA"}
    assert flow.tax_cost == pytest.approx(Decimal("4000") * lees["ira"].short_term_rate, abs=Decimal("0.01"))
    with pytest.raises(ValidationFailed, match="traditional IRA"):
        cash_flow_enter(user=lees["advisor"], household=lees["household"], kind="rmd", amount=Decimal("1"),
                        account=lees["roth"], as_of=AS_OF)


def test_a_deposit_lands_in_its_account_and_a_household_run_invests_it(lees):
    before = Account.objects.get(pk=lees["roth"].pk).cash
    flow = cash_flow_enter(user=lees["advisor"], household=lees["household"], kind="deposit", amount=Decimal("6500"),
                           account=lees["roth"], as_of=AS_OF).cash_flow
    assert Account.objects.get(pk=lees["roth"].pk).cash == before + Decimal("6500")
    assert flow.run.scope == {"household_id": lees["household"].pk} and flow.run.total == 4


@pytest.mark.parametrize("kind, amount, account, problem", [
    ("gift", "10", None, "is not a deposit"),
    ("withdrawal", "0", None, "more than 0"),
    ("deposit", "10", None, "receives the deposit"),
    ("withdrawal", "10000000", None, None),  # more than the household holds
])
def test_bad_cash_flows_are_refused_and_write_nothing(lees, kind, amount, account, problem):
    with pytest.raises(ValidationFailed, match=problem):
        cash_flow_enter(user=lees["advisor"], household=lees["household"], kind=kind, amount=Decimal(amount),
                        account=account, as_of=AS_OF)
    assert not CashFlow.objects.exists() and not Proposal.objects.exists()
    assert not RebalanceRun.objects.exists()


def test_a_colleague_cannot_enter_a_cash_flow_for_a_household_not_theirs(lees):
    with pytest.raises(NotFound):
        cash_flow_enter(user=lees["colleague"], household=lees["household"], kind="withdrawal",
                        amount=Decimal("100"), as_of=AS_OF)


def _fits_in_cents(amount: Decimal, cash: Decimal) -> bool:
    """The rule written plainly: dollars and cents, at most 10**11 (the plausibility bound of one cash
    flow, docs/csv-formats.md), and the account's cash stays under 10**16."""
    return 0 < amount <= 10**11 and amount * 100 == int(amount * 100) and cash + amount < 10**16


@pytest.mark.parametrize("amount, problem", [
    ("0.001", "more than 2 decimal places"),
    ("1E-300", "more than 2 decimal places"),
    ("1E+20", "more than any client account holds: at most \\$100,000,000,000 in one cash flow"),
    ("1E+300", "more than any client account holds"),
    ("9999999999999999.99", "more than any client account holds"),  # fits the column, not a client's cash flow
])
def test_amounts_the_columns_cannot_hold_are_refused_in_words_and_write_nothing(lees, amount, problem):
    # given a household whose Roth holds 12,000 of cash
    cash_before = Account.objects.get(pk=lees["roth"].pk).cash
    # when a deposit of an amount its columns cannot hold is entered, then it is refused, naming the amount
    with pytest.raises(ValidationFailed, match=problem) as refused:
        cash_flow_enter(user=lees["advisor"], household=lees["household"], kind="deposit", amount=Decimal(amount),
                        account=lees["roth"], as_of=AS_OF)
    assert refused.value.detail == {"field": "amount"}
    assert Account.objects.get(pk=lees["roth"].pk).cash == cash_before
    assert not CashFlow.objects.exists() and not RebalanceRun.objects.exists()


def test_the_amount_rule_matches_a_plain_statement_of_it_over_random_amounts(lees):
    import random

    rng = random.Random(20261202)
    cash = Account.objects.get(pk=lees["roth"].pk).cash
    for _ in range(60):
        digits, places = rng.randint(0, 19), rng.randint(0, 4)
        amount = Decimal(rng.randint(1, 10**digits)).scaleb(-places) + rng.choice([0, 0, Decimal("-0.5")])
        amount = Decimal(amount).copy_abs() or Decimal("0.01")
        try:
            entered = cash_flow_enter(user=lees["advisor"], household=lees["household"], kind="deposit",
                                      amount=amount, account=lees["roth"], as_of=AS_OF)
        except ValidationFailed as exc:
            assert not _fits_in_cents(amount, cash), (amount, exc.message)
        else:
            assert _fits_in_cents(amount, cash), amount
            cash += amount
            assert entered.created and Account.objects.get(pk=lees["roth"].pk).cash == cash


def test_a_reference_longer_than_its_column_is_refused_in_words(lees):
    with pytest.raises(ValidationFailed, match="at most 64 characters") as refused:
        cash_flow_enter(user=lees["advisor"], household=lees["household"], kind="deposit", amount=Decimal("10"),
                        account=lees["roth"], as_of=AS_OF, reference="R" * 65)
    assert refused.value.detail == {"field": "reference"}
    assert not CashFlow.objects.exists()


@pytest.mark.parametrize("as_of", [date(1, 1, 1), date(1899, 12, 31), "the day after tomorrow", date(9999, 12, 31)])
def test_a_day_before_1900_or_after_today_is_refused_naming_the_field(lees, as_of):
    from django.utils import timezone

    as_of = timezone.localdate() + timedelta(days=2) if as_of == "the day after tomorrow" else as_of
    with pytest.raises(ValidationFailed, match="must be from 1900-01-01 to today") as refused:
        cash_flow_enter(user=lees["advisor"], household=lees["household"], kind="withdrawal", amount=Decimal("100"),
                        as_of=as_of)
    assert refused.value.detail == {"field": "as_of"}
    assert not CashFlow.objects.exists() and not RebalanceRun.objects.exists()


def test_a_run_leaves_a_withdrawals_waiting_sales_as_they_are_until_they_are_decided(lees):
    from rebalancing.models import RunOutcome
    from rebalancing.selectors import RunScope
    from rebalancing.services.runs import run_chunks, run_process_chunk, run_start

    def run_household():
        run = run_start(scope=RunScope(household_id=lees["household"].pk), as_of=AS_OF, label="nightly")
        for chunk in run_chunks(run):
            run_process_chunk(run_id=run.pk, account_ids=chunk)
        return run

    flow = cash_flow_enter(user=lees["advisor"], household=lees["household"], kind="withdrawal",
                           amount=Decimal("10000"), as_of=AS_OF).cash_flow
    waiting = set(Proposal.objects.filter(run=flow.run).values_list("pk", flat=True))
    run = run_household()
    # Superseding them would lose the money the client asked for: the household (managed as one) waits whole.
    assert set(Proposal.objects.filter(pk__in=waiting).values_list("status", flat=True)) == {Proposal.Status.PENDING}
    assert not Proposal.objects.filter(run=run).exists()
    held = RunOutcome.objects.filter(run=run)
    assert held.count() == lees["household"].accounts.count()
    assert set(held.values_list("outcome", "code")) == {(RunOutcome.Outcome.NO_TRADES, "cash_flow_pending")}

    household_proposal_decide(household_proposal=HouseholdProposal.objects.get(run=flow.run), user=lees["advisor"],
                              approve=False, comment="the client changed their mind")
    again = run_household()
    assert not RunOutcome.objects.filter(run=again, code="cash_flow_pending").exists()


def test_a_deposit_whose_investing_proposals_wait_does_not_hold_back_a_withdrawal(lees):
    from rebalancing.services.runs import run_chunks, run_process_chunk

    deposit = cash_flow_enter(user=lees["advisor"], household=lees["household"], kind="deposit",
                              amount=Decimal("6500"), account=lees["roth"], as_of=AS_OF).cash_flow
    for chunk in run_chunks(deposit.run):
        run_process_chunk(run_id=deposit.run_id, account_ids=chunk)
    assert Proposal.objects.filter(run=deposit.run, status=Proposal.Status.PENDING).exists()
    withdrawal = cash_flow_enter(user=lees["advisor"], household=lees["household"], kind="withdrawal",
                                 amount=Decimal("1000"), as_of=AS_OF).cash_flow
    assert withdrawal.run.kind == RebalanceRun.Kind.CASH_FLOW  # planned: a deposit's run sells nothing to wait for


def test_a_withdrawal_the_household_cannot_fund_is_refused_naming_the_amount_and_writes_nothing(lees):
    with pytest.raises(ValidationFailed, match=r"the household can raise only \$[\d,]+\.\d\d of the \$10,000,000.00 "
                                               "asked") as refused:
        cash_flow_enter(user=lees["advisor"], household=lees["household"], kind="withdrawal",
                        amount=Decimal("10000000"), as_of=AS_OF)
    assert refused.value.code == "withdrawal_refused" and refused.value.detail["field"] == "amount"
    assert refused.value.detail["available"] > 0
    assert not CashFlow.objects.exists() and not RebalanceRun.objects.exists()


def test_a_suspended_firm_plans_no_withdrawal_but_records_one_taken_at_the_custodian(lees, firm_a):
    from tenants.errors import Conflict
    from tenants.services import firm_status_set

    firm_status_set(firm=firm_a, status="suspended", reason="Invoice unpaid since October")
    with tenant_context(firm_a):
        for kind, amount in (("withdrawal", "10000"), ("rmd", "4000"), ("deposit", "500")):
            account = None if kind == "withdrawal" else lees["ira"] if kind == "rmd" else lees["loss"]
            with pytest.raises(Conflict, match="Invoice unpaid since October. No (withdrawal is planned|run starts)"):
                cash_flow_enter(user=lees["advisor"], household=lees["household"], kind=kind, amount=Decimal(amount),
                                account=account, as_of=AS_OF)
        assert not CashFlow.objects.exists() and not RebalanceRun.objects.exists() and not Proposal.objects.exists()
        taken = cash_flow_enter(user=lees["advisor"], household=lees["household"], kind="rmd", amount=Decimal("4000"),
                                account=lees["ira"], as_of=AS_OF, taken_outside=True)
        assert taken.created and taken.cash_flow.run is None
