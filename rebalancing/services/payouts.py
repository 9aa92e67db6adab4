"""A withdrawal's or RMD's money leaving the household, once the sales that raise it have executed.

A withdrawal plan (``services.cash_flows``) takes an account's cash and the proceeds of its sales;
both stay in the account's cash until the sales are done. When the account's proposal becomes
executed - its orders all filled or cancelled, or at release when it has no order (the plan took
cash only) - the account pays out what the plan takes from it: its cash goes down by that much,
and the cash flow records it (``CashFlow.paid``). Until then the household's runs wait (a run would
otherwise invest the money the client asked for); after it, they see the cash as it is.

What is paid is the plan's distribution from the account, but never more than the plan raised there
(the cash it took and its sales' net proceeds) nor than the account's cash: a sale cancelled, or
filled below the price it was planned at, raises less, and the flow shows the shortfall rather than
paying it out of other money (a deposit that came in meanwhile) or leaving the account overdrawn.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction

from rebalancing.ledger.quantities import cents
from rebalancing.models import Account, CashFlow, Execution, Proposal, RebalanceRun
from tenants.audit.actions import Action
from tenants.audit.services import audit_record

__all__ = ["cash_flow_pay", "payout_of"]

_CENT = Decimal("0.01")


def payout_of(planned: Decimal, raised: Decimal, cash: Decimal) -> Decimal:
    """What an account pays out of a withdrawal that plans to take ``planned`` from it, when the plan
    raised ``raised`` there (its cash taken plus its sales' net proceeds) and the account holds ``cash``:
    never more than was raised for it (other money that came in meanwhile, a deposit, stays), nor than
    the account holds."""
    return max(min(planned, raised, cash), Decimal(0)).quantize(_CENT)


def _raised(proposal: Proposal, cash_taken: Decimal) -> Decimal:
    """The plan's cash taken from the account plus the net proceeds of the proposal's fills."""
    fills = Execution.objects.filter(order__proposal=proposal, kind="fill", order__side="sell")
    return cash_taken + sum((cents(f.quantity * f.price) - f.fees for f in fills), Decimal(0))


@transaction.atomic
def cash_flow_pay(proposal: Proposal, *, actor) -> Decimal | None:
    """Pay out what ``proposal``'s cash flow takes from its account (called, in its transaction, as
    the proposal becomes executed). None when the proposal funds no withdrawal or RMD, or was paid."""
    if proposal.run.kind != RebalanceRun.Kind.CASH_FLOW:
        return None
    flow = CashFlow.objects.select_for_update().filter(run_id=proposal.run_id).first()
    account = Account.objects.select_for_update().get(pk=proposal.account_id)
    number = account.custodian_number
    if flow is None or number in flow.paid:
        return None
    planned = Decimal(str(flow.plan.get("distributions", {}).get(number, 0))).quantize(_CENT)
    cash_taken = Decimal(str(flow.plan.get("cash_used", {}).get(number, 0))).quantize(_CENT)
    paid = payout_of(planned, _raised(proposal, cash_taken), account.cash)
    account.cash -= paid
    account.save(update_fields=["cash"])
    flow.paid = {**flow.paid, number: str(paid)}
    flow.save(update_fields=["paid"])
    short = planned - paid
    audit_record(actor=actor, action=Action.CASH_FLOW_PAY, obj=account,
                 before={"cash": str(account.cash + paid)}, after={"cash": str(account.cash), "paid": str(paid)},
                 comment=f"{flow.get_kind_display()} of ${flow.amount:,.2f}: ${paid:,.2f} out of {number}"
                         + (f", ${short:,.2f} short of the ${planned:,.2f} planned (its sales raised less)"
                            if short > 0 else ""))
    return paid
