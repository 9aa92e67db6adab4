"""A one-off instruction on an account: "sell X and buy Y", "raise $N cash", "sell everything",
"bring back to the model" - solved now, once, as a proposal.

The instruction is laid over the account's effective parameters for this solve only (as an
advisor's edit of a proposal is, ``services.revisions``); the account's parameters are not changed,
so the next nightly run does not repeat it. The proposal supersedes the account's proposal pending
approval and goes through the firm's approval policy like a run's. Refused, by name and with
nothing written: an account managed with its household as one (its instructions go on the
household's proposal), an account whose withdrawal sales or released orders are still open, an
approved proposal not yet released, an instruction that leaves nothing to trade.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from django.db import transaction
from django.utils import timezone

from rebalancing import dispatch, engine
from rebalancing.access import require
from rebalancing.engine_inputs import book_day_check, rebalance_inputs_load
from rebalancing.models import Account, Proposal, RebalanceRun, RunOutcome
from rebalancing.selectors import RunScope
from rebalancing.services.proposals import S, _move, proposal_submit
from rebalancing.services.revisions import (
    ONE_OFF_ACTIONS,
    InstructionAdded,
    edit_as_parameters,
    instructions_clean,
    sales_within_holdings,
)
from rebalancing.services.runs import proposal_build
from tenants.audit.actions import Action
from tenants.audit.services import audit_record
from tenants.errors import Conflict, ValidationFailed
from tenants.permissions import Capability

__all__ = ["account_instruct"]


def _blocking(account: Account) -> None:
    """What stands in the way of a new proposal for the account, refused by name."""
    if account.household.is_unit:
        raise Conflict(f"{account.custodian_number} is managed with its household {account.household.name} as one: "
                       "rebalance the household and add the instruction to its proposal, on the household's page.",
                       code="household_managed_as_one", detail={"household": account.household_id})
    open_ = (Proposal.objects.filter(account=account, status__in=[S.PENDING, S.APPROVED, S.RELEASED])
             .select_related("run").order_by("-created_at"))
    for p in open_:
        if p.run.kind == RebalanceRun.Kind.CASH_FLOW and p.status != S.RELEASED:
            raise Conflict(f"Proposal #{p.pk} raises cash for a withdrawal or RMD and waits for a decision; decide on "
                           "it first (a new proposal would leave the client's money unraised).",
                           code="cash_flow_pending", detail={"proposal": p.pk})
        if p.status == S.RELEASED:
            raise Conflict(f"Proposal #{p.pk}'s orders are still open at the custodian; the book will hold their fills "
                           "once executed, and an instruction before then would trade the same shares twice.",
                           code="orders_open", detail={"proposal": p.pk})
        if p.status == S.APPROVED:
            raise Conflict(f"Proposal #{p.pk} is approved and not yet released: release or reject it first, so its "
                           "approval is not set aside unseen.", code="approved_waiting", detail={"proposal": p.pk})


@transaction.atomic
def account_instruct(*, account: Account, instructions: Sequence[InstructionAdded], by,
                     as_of: date | None = None) -> Proposal:
    """Solve ``account`` now with ``instructions`` (``ONE_OFF_ACTIONS``) and return the proposal,
    approved within the firm's auto-approval limits or pending approval."""
    require(by, Capability.RUN_REBALANCE)
    account = Account.objects.select_for_update().select_related("household").get(pk=account.pk)
    _blocking(account)
    if not instructions:
        raise ValidationFailed("Give at least one instruction.", detail={"field": "instructions"})
    added = instructions_clean(instructions, [], account.pk, actions=ONE_OFF_ACTIONS)
    as_of = book_day_check(as_of or timezone.localdate(), what="instruction's day")

    [plain] = rebalance_inputs_load([account.pk], as_of=as_of)
    edit = edit_as_parameters(plain.parameters, [], added)
    [inputs] = rebalance_inputs_load([account.pk], as_of=as_of, edits={account.pk: edit})
    if inputs.error is not None:
        raise ValidationFailed(f"The account cannot be solved: {inputs.error.message}", code=inputs.error.code,
                               detail=inputs.error.detail)
    sales_within_holdings(inputs.request, added)
    try:
        result = engine.rebalance(inputs.request)
    except engine.EngineError as exc:
        raise ValidationFailed(f"The instruction cannot be carried out: {exc.message}", code=exc.code,
                               detail=exc.detail or {}) from None
    if not result.trades:
        raise Conflict("With this instruction nothing is to trade: the account already is where it asks.",
                       code="nothing_to_trade")

    words = "; ".join(i.words() for i in added)
    now = timezone.now()
    run = RebalanceRun.objects.create(
        kind=RebalanceRun.Kind.INSTRUCTION, scope=RunScope(account_ids=(account.pk,)).to_dict(), as_of=as_of,
        started_by=by, started_by_label=by.get_username(), total=1, done=1, status=RebalanceRun.Status.COMPLETED,
        started_at=now, finished_at=now)
    audit_record(actor=by, action=Action.RUN_START, obj=run,
                 after={"scope": run.scope, "kind": run.kind, "as_of": str(as_of), "accounts": 1})
    new = proposal_build(run, inputs, result, inputs.fingerprint)
    new.revised_by = by  # who asked for it (revised_from stays empty: no proposal was edited)
    new.revision = {"dropped": [], "instructions": [i.words() for i in added], "changes": [words]}
    new.save()
    RunOutcome.objects.create(run=run, account=account, outcome=RunOutcome.Outcome.PROPOSED)
    superseded = list(Proposal.objects.filter(account=account, status=S.PENDING).exclude(pk=new.pk)
                      .values_list("pk", flat=True))
    for old in Proposal.objects.filter(pk__in=superseded):
        _move(old, S.SUPERSEDED, actor=by, action=Action.PROPOSAL_SUPERSEDE, comment=f"superseded by #{new.pk}: {words}")
    new = proposal_submit(proposal=new, actor=by)
    audit_record(actor=by, action=Action.ACCOUNT_INSTRUCT, obj=new, comment=words,
                 after={"account": account.custodian_number, "instructions": [i.words() for i in added],
                        "trades": new.trade_count, "estimated_tax": str(new.estimated_tax), "superseded": superseded})
    if new.status == S.PENDING:
        transaction.on_commit(lambda: dispatch.send(dispatch.APPROVERS_NOTIFY, run.pk))
    return new
