"""A withdrawal planned beside the household's open proposals: it sells nothing at a loss that one of
them, still standing after it, buys (a wash sale across the household: IRC §1091, Rev. Rul. 2008-5
for an IRA's purchase), and it leaves no household proposal in part."""

import random
from decimal import Decimal

import pytest

from rebalancing.models import Account, Household, HouseholdProposal, Proposal, Security, TaxLot
from rebalancing.selectors import RunScope
from rebalancing.services.cash_flows import cash_flow_enter
from rebalancing.services.proposals import OPEN, household_proposal_decide
from rebalancing.services.runs import run_chunks, run_process_chunk, run_start
from tenants.errors import DomainError

from .book import AS_OF, make_account
from .test_cash_flows import lees  # noqa: F401
from .workflow import make_proposal

pytestmark = pytest.mark.django_db


def _household_run(lees):  # noqa: F811
    run = run_start(scope=RunScope(household_id=lees["household"].pk), as_of=AS_OF, label="nightly")
    for chunk in run_chunks(run):
        run_process_chunk(run_id=run.pk, account_ids=chunk)
    return run


def _loss_sales(flow) -> set[str]:
    return {s["symbol"] for s in flow.plan["sales"] if s["gain"] < 0}


def _buys(proposal: Proposal) -> set[str]:
    return {t["symbol"] for t in proposal.result.get("trades") or [] if t["side"] == "buy" and t["quantity"] > 0}


def _washed(flow) -> set[str]:
    """A plain statement of the rule: the plan's loss sales whose group an open proposal left
    standing in the household buys."""
    groups = {s.symbol: s.equivalence_group or s.symbol for s in Security.objects.all()}
    standing = Proposal.objects.filter(account__household_id=flow.household_id, status__in=OPEN).exclude(run=flow.run)
    bought = {groups[symbol] for p in standing for symbol in _buys(p)}
    return {symbol for symbol in _loss_sales(flow) if groups[symbol] in bought}


def test_the_plan_and_the_households_pending_proposal_do_not_wash_and_none_is_left_in_part(lees):  # noqa: F811
    first = _household_run(lees)
    ira = Proposal.objects.get(run=first, account=lees["ira"])
    assert "VNQ" in _buys(ira)  # the IRA would buy the REIT fund the plan may sell at a loss
    flow = cash_flow_enter(user=lees["advisor"], household=lees["household"], kind="withdrawal",
                           amount=Decimal("10000"), as_of=AS_OF).cash_flow
    # The household's proposal is one joint solve: it gives way whole, not only where the plan sells.
    assert set(Proposal.objects.filter(run=first).values_list("status", flat=True)) == {Proposal.Status.SUPERSEDED}
    assert "VNQ" in _loss_sales(flow) and _washed(flow) == set()  # the purchase that would wash it is gone


def test_an_approved_household_proposal_gives_way_too_and_the_user_is_told(lees):  # noqa: F811
    first = _household_run(lees)
    household_proposal_decide(household_proposal=HouseholdProposal.objects.get(run=first), user=lees["advisor"],
                              approve=True)
    entered = cash_flow_enter(user=lees["advisor"], household=lees["household"], kind="withdrawal",
                              amount=Decimal("10000"), as_of=AS_OF)
    # Made on the book before the withdrawal, it would spend the cash and sell the lots the plan takes.
    assert set(Proposal.objects.filter(run=first).values_list("status", flat=True)) == {Proposal.Status.SUPERSEDED}
    assert entered.approved_replaced == ("LEE-IRA", "LEE-JT", "LEE-ROTH", "LEE-TR")
    assert _washed(entered.cash_flow) == set()


@pytest.mark.parametrize("holder, status", [("ira", Proposal.Status.APPROVED), ("roth", Proposal.Status.PENDING)])
def test_account_by_account_another_accounts_open_purchase_stands_and_is_respected(lees, holder, status):  # noqa: F811
    Household.objects.filter(pk=lees["household"].pk).update(managed_as=Household.ManagedAs.ACCOUNTS)
    Account.objects.filter(household=lees["household"]).update(model=lees["model"])
    other = make_proposal(lees[holder], status=status)
    other.result = {"trades": [{"symbol": "VNQ", "side": "buy", "quantity": 10, "price": 90, "value": 900,
                                "reasons": ["drift"], "lots": []}]}
    other.save(update_fields=["result"])
    entered = cash_flow_enter(user=lees["advisor"], household=lees["household"], kind="withdrawal",
                              amount=Decimal("10000"), as_of=AS_OF)
    # Not the plan's to replace: the plan draws on the taxable accounts only.
    assert Proposal.objects.get(pk=other.pk).status == status and entered.approved_replaced == ()
    assert "VNQ" not in _loss_sales(entered.cash_flow) and _washed(entered.cash_flow) == set()
    assert any("VNQ" in line and f"a trade the household plans buys VNQ in {lees[holder].custodian_number}" in line for line in entered.cash_flow.plan["explanation"])


@pytest.mark.parametrize("seed", range(12))
def test_no_withdrawal_sells_at_a_loss_what_a_standing_proposal_buys_over_random_households(lees, seed):  # noqa: F811
    rng = random.Random(seed)
    if rng.random() < 0.5:
        Household.objects.filter(pk=lees["household"].pk).update(managed_as=Household.ManagedAs.ACCOUNTS)
        Account.objects.filter(household=lees["household"]).update(model=lees["model"])
    symbols = [s.symbol for s in Security.objects.all()]
    prices = {"VTI": 100, "ITOT": 50, "SCHB": 25, "BND": 80, "AGG": 100, "VNQ": 90}
    accounts = list(Account.objects.filter(household=lees["household"]))
    for account in rng.sample(accounts, rng.randint(1, len(accounts))):
        proposal = make_proposal(account, status=rng.choice([Proposal.Status.DRAFT, Proposal.Status.PENDING,
                                                             Proposal.Status.APPROVED]))
        proposal.result = {"trades": [
            {"symbol": s, "side": "buy", "quantity": 2, "price": prices[s], "value": 2 * prices[s],
             "reasons": ["drift"], "lots": []} for s in rng.sample(symbols, rng.randint(1, 3))]}
        proposal.save(update_fields=["result"])
    amount = Decimal(rng.choice([1500, 4000, 9000, 20000]))
    try:
        flow = cash_flow_enter(user=lees["advisor"], household=lees["household"], kind="withdrawal", amount=amount,
                               as_of=AS_OF).cash_flow
    except DomainError as refused:  # too little can be sold without a wash sale: said, nothing written
        assert "can raise only" in refused.message
        return
    assert _washed(flow) == set()


@pytest.mark.parametrize("seed", range(6))
def test_withdrawals_entered_while_earlier_ones_wait_never_plan_the_same_lot_or_dollar_twice(lees, seed):  # noqa: F811
    rng = random.Random(100 + seed)
    held = {(a, lot): q for a, lot, q in TaxLot.objects.values_list("account__custodian_number", "lot_id", "quantity")}
    cash = dict(Account.objects.values_list("custodian_number", "cash"))
    flows = []
    for _ in range(3):
        try:
            # (repeat: the same amount drawn twice is meant as a second withdrawal, not a resubmission)
            flows.append(cash_flow_enter(user=lees["advisor"], household=lees["household"], kind="withdrawal",
                                         amount=Decimal(rng.choice([800, 2500, 6000, 12000])), as_of=AS_OF,
                                         repeat=True).cash_flow)
        except DomainError as refused:  # the household cannot raise it beside the earlier ones: said
            assert "can raise only" in refused.message
    assert flows
    for f in flows:  # each still waits for its decision: none gave way to a later one
        assert set(Proposal.objects.filter(run=f.run).values_list("status", flat=True)) == {Proposal.Status.PENDING}
    sold: dict = {}
    out: dict = {}  # what leaves each account, over all the withdrawals
    came_in: dict = {}  # what their sales raise in it
    for f in flows:
        for s in f.plan["sales"]:
            sold[s["account_id"], s["lot_id"]] = sold.get((s["account_id"], s["lot_id"]), 0) + Decimal(str(s["quantity"]))
            came_in[s["account_id"]] = came_in.get(s["account_id"], 0) + Decimal(str(s["proceeds"]))
        for number, amount in f.plan["distributions"].items():
            out[number] = out.get(number, 0) + Decimal(str(amount))
    assert all(q <= held[k] for k, q in sold.items())
    assert all(o <= cash[n] + came_in.get(n, 0) + Decimal("0.01") for n, o in out.items())


def test_a_withdrawal_whose_orders_are_out_holds_the_next_back_naming_it(lees):  # noqa: F811
    first = cash_flow_enter(user=lees["advisor"], household=lees["household"], kind="withdrawal",
                            amount=Decimal("10000"), as_of=AS_OF).cash_flow
    Proposal.objects.filter(run=first.run).update(status=Proposal.Status.RELEASED)
    with pytest.raises(DomainError, match=r"withdrawal of \$10,000.00 entered on 20 November 2026 has orders out"):
        cash_flow_enter(user=lees["advisor"], household=lees["household"], kind="withdrawal", amount=Decimal("10"),
                        as_of=AS_OF)


def test_account_by_account_the_plans_tax_nets_after_a_gain_left_standing_on_the_same_return(lees):  # noqa: F811
    # LEE-X, which the plan cannot draw on (no cash, no lots), has a proposal waiting that realises a
    # 10,000 long-term gain on the household's one return. The plan sells LEE-TR's VNQ at a long-term
    # loss: alone on the return a deduction at the short-term rate (37%); beside the standing gain
    # it comes off a long-term gain, at 20%.
    Household.objects.filter(pk=lees["household"].pk).update(managed_as=Household.ManagedAs.ACCOUNTS)
    Account.objects.filter(household=lees["household"]).update(model=lees["model"], short_term_rate=Decimal("0.37"),
                                                               long_term_rate=Decimal("0.20"))
    standing = make_proposal(make_account("LEE-X", model=lees["model"], household=lees["household"], cash="0"),
                             status=Proposal.Status.PENDING, estimated_tax="2000")
    standing.result = {"trades": [], "summary": {"realised_short_term_gain": 0, "realised_short_term_loss": 0,
                                                 "realised_long_term_gain": 10000, "realised_long_term_loss": 0,
                                                 "estimated_tax": 2000}}
    standing.save(update_fields=["result"])

    flow = cash_flow_enter(user=lees["advisor"], household=lees["household"], kind="withdrawal",
                           amount=Decimal("10000"), as_of=AS_OF).cash_flow

    sale = Proposal.objects.get(run=flow.run, account=lees["loss"])
    summary = sale.result["summary"]
    assert [t["symbol"] for t in sale.result["trades"]] == ["VNQ"] and summary["realised_short_term_loss"] == 0
    loss = Decimal(str(summary["realised_long_term_loss"]))  # what the 10,000 needs of VNQ's 3,000 loss
    assert 0 < loss <= 3000 and not summary["realised_long_term_gain"]
    assert sale.estimated_tax == (-loss * Decimal("0.20")).quantize(Decimal("0.01"))
    assert Decimal(sale.result["tax_restated"][0]["before"]) == (-loss * Decimal("0.37")).quantize(Decimal("0.01"))
    together = HouseholdProposal.objects.get(run=flow.run)
    assert flow.tax_cost == together.estimated_tax == sum(
        p.estimated_tax for p in Proposal.objects.filter(household_proposal=together))
    standing.refresh_from_db()
    assert standing.status == Proposal.Status.PENDING and standing.estimated_tax == Decimal("2000.00")


def test_account_by_account_the_buys_of_a_proposal_the_withdrawal_replaces_do_not_keep_its_losses_unsold(lees):  # noqa: F811
    """The plan draws on LEE-JT (its cash first), so LEE-JT's open proposal gives way: its purchase
    of BND is never made and washes nothing (IRC §1091(a) needs shares acquired), so the plan sells
    LEE-JT's BND loss lot, as it would with no proposal open, rather than a gain in its place."""
    Household.objects.filter(pk=lees["household"].pk).update(managed_as=Household.ManagedAs.ACCOUNTS)
    Account.objects.filter(household=lees["household"]).update(model=lees["model"])
    own = make_proposal(lees["joint"], status=Proposal.Status.PENDING)
    own.result = {"trades": [{"symbol": "BND", "side": "buy", "quantity": 10, "price": 80, "value": 800,
                              "reasons": ["drift"], "lots": []}]}
    own.save(update_fields=["result"])

    entered = cash_flow_enter(user=lees["advisor"], household=lees["household"], kind="withdrawal",
                              amount=Decimal("20000"), as_of=AS_OF)

    flow = entered.cash_flow
    assert Proposal.objects.get(pk=own.pk).status == Proposal.Status.SUPERSEDED
    assert {"BND", "VNQ"} <= _loss_sales(flow) and _washed(flow) == set()
    assert not any("a trade the household plans buys" in line for line in flow.plan["explanation"])
