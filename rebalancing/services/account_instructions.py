"""A one-off instruction on an account: "sell X and buy Y", "raise $N cash", "sell everything",
"bring back to the model", "harvest losses now" - solved now, once, as a proposal.

The instruction is laid over the account's effective parameters for this solve only (as an
advisor's edit of a proposal is, ``services.revisions``); the account's parameters are not changed,
so the next nightly run does not repeat it. The proposal supersedes the account's proposal pending
approval and waits for a person's approval: a person chose its trades, so (as an edit's,
``services.revisions``) the policy's auto-approval never settles it (``proposal_submit``); the
policy says whether compliance must approve it too, and whoever chose it never gives that approval
(``access.decision_capacity``). An account of a household
managed as one is solved with its household (``engine.rebalance_household``: the other accounts
make up what the instruction moves, and none buys back a loss it sells), as a household proposal;
there a sale and raising cash are offered (the joint solve has no liquidation or "back to the
model" of one account). Refused, by name and with nothing written: an account (or, in a household
managed as one, any account) whose withdrawal sales or released orders are still open or whose
approved proposal is not yet released, an instruction that leaves nothing to trade, a harvest
outside a taxable account or one that finds no loss to harvest (saying why each loss stays).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from django.db import transaction
from django.utils import timezone

from rebalancing import dispatch, engine
from rebalancing.access import require
from rebalancing.engine_inputs import book_day_check, household_inputs_from, rebalance_inputs_load
from rebalancing.models import Account, Proposal, RebalanceRun, RunOutcome
from rebalancing.selectors import RunScope
from rebalancing.services.household_revisions import household_restated_for_ledger
from rebalancing.services.proposals import S, _move, proposal_submit
from rebalancing.services.revisions import (
    HOUSEHOLD_ONE_OFF_ACTIONS,
    ONE_OFF_ACTIONS,
    InstructionAdded,
    edit_as_parameters,
    instructions_clean,
    restated_for_ledger,
    run_by_person,
    sales_within_holdings,
    solve_edited,
)
from rebalancing.services.runs import alerts_record, household_proposal_build, proposal_build
from tenants.audit.actions import Action
from tenants.audit.services import audit_record
from tenants.errors import Conflict, ValidationFailed
from tenants.permissions import Capability

__all__ = ["account_instruct", "instruction_replaces", "one_off_actions"]


def one_off_actions(account: Account) -> dict[str, str]:
    """The instructions the account may be given: fewer when it is solved with its household, and no
    harvest outside a taxable account."""
    actions = HOUSEHOLD_ONE_OFF_ACTIONS if account.household.is_unit else ONE_OFF_ACTIONS
    if account.tax_status != Account.TaxStatus.TAXABLE:
        actions = {k: v for k, v in actions.items() if k != "harvest"}
    return actions


def instruction_replaces(account: Account):
    """The proposals a one-off instruction on ``account`` would replace (``_supersede``): those pending
    approval of the account, or of every account of its household where it is solved as one."""
    ids = (list(Account.objects.filter(household_id=account.household_id).values_list("pk", flat=True))
           if account.household.is_unit else [account.pk])
    return _pending_of(ids)


def _pending_of(account_ids: list[int]):
    return Proposal.objects.filter(account_id__in=account_ids, status=S.PENDING).select_related("account").order_by("pk")


def _blocking(account: Account) -> None:
    """What stands in the way of a new proposal for the account, refused by name."""
    open_ = (Proposal.objects.filter(account=account, status__in=[S.PENDING, S.APPROVED, S.RELEASED])
             .select_related("run").order_by("-created_at"))
    for p in open_:
        if p.run.kind == RebalanceRun.Kind.CASH_FLOW and p.status != S.RELEASED:
            raise Conflict(f"{account.custodian_number}'s proposal #{p.pk} raises cash for a withdrawal or RMD and "
                           "waits for a decision; decide on it first (a new proposal would leave the client's money "
                           "unraised).",
                           code="cash_flow_pending", detail={"proposal": p.pk})
        if p.status == S.RELEASED:
            raise Conflict(f"{account.custodian_number}'s proposal #{p.pk}: its orders are still open at the "
                           "custodian; the book will hold their fills once executed, and an instruction before then "
                           "would trade the same shares twice.",
                           code="orders_open", detail={"proposal": p.pk})
        if p.status == S.APPROVED:
            raise Conflict(f"{account.custodian_number}'s proposal #{p.pk} is approved and not yet released: release "
                           "or reject it first, so its approval is not set aside unseen.", code="approved_waiting",
                           detail={"proposal": p.pk})


@transaction.atomic
def account_instruct(*, account: Account, instructions: Sequence[InstructionAdded], by,
                     as_of: date | None = None) -> Proposal:
    """Solve ``account`` now with ``instructions`` (``ONE_OFF_ACTIONS``) and return the proposal,
    pending approval (a person's, never the policy's alone); its ``superseded``: the
    proposals it replaced (``instruction_replaces``), each superseded now."""
    require(by, Capability.RUN_REBALANCE)
    account = Account.objects.select_for_update().select_related("household").get(pk=account.pk)
    if not instructions:
        raise ValidationFailed("Give at least one instruction.", detail={"field": "instructions"})
    as_of = book_day_check(as_of or timezone.localdate(), what="instruction's day")
    if account.household.is_unit:
        return _household_instruct(account, instructions, by, as_of)
    # What was asked is read first: a malformed instruction is refused as such (400) whatever
    # stands in the way of a new proposal (409).
    added = instructions_clean(instructions, [], account.pk, actions=ONE_OFF_ACTIONS)
    _harvest_taxable_check(account, added)
    _blocking(account)

    [plain] = rebalance_inputs_load([account.pk], as_of=as_of)
    edit = edit_as_parameters(plain.parameters, [], added)
    inputs, result = solve_edited(account.pk, as_of, edit, added, refusal="The instruction cannot be carried out")
    _harvest_made_check(account, added, result)
    if not result.trades:
        raise Conflict("With this instruction nothing is to trade: the account already is where it asks.",
                       code="nothing_to_trade")

    words = "; ".join(i.words() for i in added)
    run = run_by_person(RebalanceRun.Kind.INSTRUCTION, RunScope(account_ids=(account.pk,)), as_of, by, accounts=1)
    new = proposal_build(run, inputs, result, inputs.fingerprint)
    restated = restated_for_ledger(new, as_of)
    new.revised_by = by  # who asked for it (revised_from stays empty: no proposal was edited)
    new.chosen_by = [by.pk]
    new.revision = {"dropped": [], "instructions": [i.words() for i in added], "changes": [words]}
    new.save()
    RunOutcome.objects.create(run=run, account=account, outcome=RunOutcome.Outcome.PROPOSED)
    # (An instruction decides no drift alert.)
    alerts_record(run, [(account.pk, result)], drift=False, restated=restated)
    superseded = _supersede([account.pk], new, words, by)
    new = proposal_submit(proposal=new, actor=by)
    audit_record(actor=by, action=Action.ACCOUNT_INSTRUCT, obj=new, comment=words,
                 after={"account": account.custodian_number, "instructions": [i.words() for i in added],
                        "trades": new.trade_count, "estimated_tax": str(new.estimated_tax),
                        "superseded": [p.pk for p in superseded]})
    if new.status == S.PENDING:
        transaction.on_commit(lambda: dispatch.send(dispatch.APPROVERS_NOTIFY, run.pk))
    new.superseded = superseded  # for the caller's words (as ``services.assignments``' ``superseded``)
    return new


def _harvest_taxable_check(account: Account, added: Sequence[InstructionAdded]) -> None:
    """Harvesting is refused by name outside a taxable account: its losses would save no tax."""
    if any(i.action == "harvest" for i in added) and account.tax_status != Account.TaxStatus.TAXABLE:
        raise ValidationFailed(f"{account.custodian_number} is {account.tax_status_noun}: a loss "
                               "realised in it saves no tax, so there is nothing to harvest. Harvest in a taxable "
                               "account.", code="not_taxable", detail={"field": "instructions"})


def _harvest_made_check(account: Account, added: Sequence[InstructionAdded], result) -> None:
    """An instruction to harvest that harvests nothing is refused, saying why each loss stays (the
    engine's harvest alerts: below the thresholds, or a purchase within 30 days blocks it), rather
    than proposing whatever else the solve found to trade."""
    if not any(i.action == "harvest" for i in added) or any("harvest" in t.reasons for t in result.trades):
        return
    why = [a.message for a in result.alerts if a.code == "harvest_opportunity"]
    raise Conflict(f"{account.custodian_number} has no loss to harvest now"
                   + (f": {'; '.join(why)}." if why else ": no position is past its harvest thresholds (the "
                      "losing lots down at least harvest.min_loss_pct of their cost that lose harvest.min_loss_value "
                      "together).")
                   + " Nothing was proposed.", code="nothing_to_harvest", detail={"account": account.pk})


def _supersede(account_ids: list[int], new: Proposal, words: str, by) -> list[Proposal]:
    """The accounts' proposals pending approval give way to the instruction's (``new`` and its household's)."""
    older = list(_pending_of(account_ids).exclude(run_id=new.run_id))
    for old in older:
        _move(old, S.SUPERSEDED, actor=by, action=Action.PROPOSAL_SUPERSEDE,
              comment=f"superseded by #{new.pk}: {words}")
    return older


def _household_instruct(account: Account, instructions, by, as_of: date) -> Proposal:
    """The account's instruction solved with its household as one: the household proposal's
    proposal for this account (the others' proposals make up what it moves)."""
    household = account.household
    members = list(Account.objects.select_for_update().filter(household=household).order_by("pk"))
    added = instructions_clean(instructions, [], account.pk, actions=HOUSEHOLD_ONE_OFF_ACTIONS)  # (400 before 409)
    _harvest_taxable_check(account, added)
    for member in members:
        _blocking(member)
    [plain] = rebalance_inputs_load([account.pk], as_of=as_of)
    edit = edit_as_parameters(plain.parameters, [], added)
    loaded = rebalance_inputs_load([m.pk for m in members], as_of=as_of, edits={account.pk: edit})
    mine = next(i for i in loaded if i.account_id == account.pk)
    if mine.error is None:
        sales_within_holdings(mine.request, added)
    inputs = household_inputs_from(household, loaded, as_of=as_of)
    if inputs.error is not None:
        raise ValidationFailed(f"The household cannot be solved: {inputs.error.message}", code=inputs.error.code,
                               detail=inputs.error.detail)
    try:
        result = engine.rebalance_household(inputs.request)
    except engine.EngineError as exc:
        raise ValidationFailed(f"The instruction cannot be carried out with the household: {exc.message}",
                               code=exc.code, detail=exc.detail or {}) from None
    _harvest_made_check(account, added, next(r for m, r in zip(inputs.members, result.accounts, strict=True)
                                             if m.account_id == account.pk))
    if not any(r.trades for r in result.accounts):
        raise Conflict("With this instruction nothing is to trade in any account of the household.",
                       code="nothing_to_trade")

    said = [i.words() for i in added]
    words = f"{account.custodian_number}: " + "; ".join(said)
    run = run_by_person(RebalanceRun.Kind.INSTRUCTION, RunScope(household_id=household.pk), as_of, by,
                        accounts=len(members))
    together, proposals = household_proposal_build(run, inputs, result)
    restated = household_restated_for_ledger(together, proposals, as_of)
    together.revised_by = by
    together.revision = {"changes": [words], "accounts": {account.custodian_number: said}}
    together.save()
    mine = None
    for proposal in proposals:
        proposal.household_proposal, proposal.revised_by, proposal.chosen_by = together, by, [by.pk]
        proposal.revision = ({"dropped": [], "instructions": said, "changes": ["; ".join(said)]}
                             if proposal.account_id == account.pk else
                             {"dropped": [], "instructions": [], "changes": [f"solved with its household ({words})"]})
        proposal.save()
        mine = proposal if proposal.account_id == account.pk else mine
    superseded = _supersede([m.pk for m in members], mine, words, by)
    proposals = [proposal_submit(proposal=p, actor=by) for p in proposals]
    RunOutcome.objects.bulk_create([RunOutcome(run=run, account_id=p.account_id, outcome=RunOutcome.Outcome.PROPOSED)
                                    for p in proposals])
    alerts_record(run, [(m.account_id, r) for m, r in zip(inputs.members, result.accounts, strict=True)],
                  drift=False, restated=restated)
    mine = next(p for p in proposals if p.account_id == account.pk)
    audit_record(actor=by, action=Action.ACCOUNT_INSTRUCT, obj=mine, comment=words,
                 after={"account": account.custodian_number, "instructions": said, "household_proposal": together.pk,
                        "trades": sum(p.trade_count for p in proposals), "estimated_tax": str(together.estimated_tax),
                        "superseded": [p.pk for p in superseded]})
    if any(p.status == S.PENDING for p in proposals):
        transaction.on_commit(lambda: dispatch.send(dispatch.APPROVERS_NOTIFY, run.pk))
    mine.superseded = superseded
    return mine
