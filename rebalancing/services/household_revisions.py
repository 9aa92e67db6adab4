"""An advisor's edit of a household proposal before deciding: drop trades and add one-off
instructions in any of its accounts, then solve the household again as one.

A household proposal is one joint solve (``engine.rebalance_household``): dropping a trade in one
account moves what the placement asks of the others (the IRA sells the bonds the taxable account
no longer buys), so the edit is laid over the accounts' parameters (``revisions.edit_as_parameters``:
a dropped trade is a "hold" on its security in that account) and the whole household is solved
again with the inputs of the proposal's run - same pricing date, same household settings. The new
household proposal and its accounts' proposals replace the old ones (open -> superseded, each
pointing back to the one it replaced) and wait for approval: a person changed them, so a person
approves them, and the firm's policy says whether compliance must too. As for one account's
proposal, only the one deciding in the advisor's capacity edits (``revisions.proposal_revisable_by``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import transaction

from rebalancing import dispatch, engine
from rebalancing.engine_inputs import household_inputs_from, rebalance_inputs_load
from rebalancing.models import Account, ApprovalPolicy, HouseholdProposal, Proposal, RebalanceRun, RunOutcome
from rebalancing.selectors import RunScope
from rebalancing.services.proposals import OPEN, IllegalTransition, S, _move, policy_decide
from rebalancing.services.revisions import (
    InstructionAdded,
    edit_as_parameters,
    instructions_clean,
    proposal_revisable_by,
    revision_permission_check,
    run_by_person,
)
from rebalancing.services.runs import alerts_record, household_proposal_build
from rebalancing.services.tax_estimates import (
    proposals_restate_for_ledger,
    realised_open_beside,
    wash_sales_allowed,
)
from tenants.audit.actions import Action
from tenants.audit.services import audit_record
from tenants.errors import Conflict, NotFound, ValidationFailed

__all__ = ["AccountEdit", "household_proposal_resolve", "household_proposal_revisable_by",
           "household_revision_permission_check"]


@dataclass(frozen=True)
class AccountEdit:
    """What an advisor changes in one account of the household: trades dropped (by symbol) and
    instructions added."""

    drop_symbols: Sequence[str] = ()
    instructions: Sequence[InstructionAdded] = field(default_factory=tuple)


def _members_locked(together: HouseholdProposal, by) -> list[Proposal]:
    """The household proposal's accounts' proposals, locked, once the edit may go ahead."""
    members = list(Proposal.objects.select_for_update().filter(household_proposal_id=together.pk)
                   .select_related("account", "run").order_by("account__custodian_number"))
    if not members:
        raise NotFound("Not found, or not yours to see.")
    if together.result.get("cash_flow"):
        # Its sales are a withdrawal's plan (engine.plan_withdrawal), not a rebalance: solving the
        # household again would drop the withdrawal.
        kind = "required minimum distribution" if together.result["cash_flow"].get("kind") == "rmd" else "withdrawal"
        raise Conflict(f"This household proposal funds a {kind}: it is not edited and solved again. Reject it "
                       f"and enter the {kind} again (choosing the account on the household page), or approve it.",
                       code="cash_flow_proposal", detail={"household_proposal": together.pk})
    closed = [p for p in members if p.status not in OPEN]
    if closed:
        into = HouseholdProposal.objects.filter(revised_from=together).values_list("pk", flat=True).first()
        raise IllegalTransition(
            "Only a household proposal whose accounts' proposals are all still open can be edited: "
            + ", ".join(f"{p.account.custodian_number}'s is {p.get_status_display().lower()}" for p in closed)
            + (f" (revised into household proposal #{into})." if into else "."),
            detail={"statuses": {p.account.custodian_number: p.status for p in closed},
                    **({"revised_into": into} if into else {})})
    pending = [p for p in members if p.status == S.PENDING]
    if not pending:
        raise IllegalTransition("None of this household's proposals waits for approval: there is nothing to edit.",
                                detail={"statuses": sorted({p.status for p in members})})
    household = together.household
    now_in = set(Account.objects.filter(household=household).values_list("pk", flat=True))
    if not household.is_unit or now_in != {p.account_id for p in members}:
        # The proposal was solved for the household as it was: its accounts or how it is managed
        # have changed since, so an edit of it would solve a household that no longer exists.
        raise Conflict("The household has changed since this proposal was made (its accounts, or how it is "
                       "managed): rebalance the household again instead of editing it.",
                       code="household_changed", detail={"household_proposal": together.pk})
    _permission_check(by, pending)
    return members


def _permission_check(user, pending: list[Proposal]) -> None:
    for p in pending:
        revision_permission_check(user, p, what=f"{p.account.custodian_number}'s proposal of this household")


def household_revision_permission_check(user, household_proposal: HouseholdProposal) -> None:
    """Refuse ``user`` an edit of the household proposal (403) before its body is read, as
    ``household_proposal_resolve`` refuses it after: compliance is told so whatever it sends. One
    with no account's proposal pending is left to the resolve, which says why (409)."""
    _permission_check(user, list(Proposal.objects.filter(household_proposal_id=household_proposal.pk,
                                                         status=S.PENDING).select_related("account")
                                 .order_by("account__custodian_number")))


def household_proposal_revisable_by(user, household_proposal: HouseholdProposal) -> bool:
    """Whether ``user`` may edit the household proposal: every account's proposal of it pending
    approval is theirs to edit (``revisions.proposal_revisable_by``). The page offers the edit by it."""
    pending = list(household_proposal.proposals.filter(status=S.PENDING))
    return bool(pending) and all(proposal_revisable_by(user, p) for p in pending)


def _edits_clean(edits: Mapping[int, AccountEdit], members: list[Proposal]) -> dict[int, tuple[list, list]]:
    """Each account's edit checked against its proposal and book: (drops, instructions) by account id."""
    by_account = {p.account_id: p for p in members}
    strangers = sorted(set(edits) - set(by_account))
    if strangers:
        raise ValidationFailed(f"Not an account of this household proposal: {', '.join(map(str, strangers))}.",
                               detail={"accounts": strangers})
    out = {}
    for account_id, edit in edits.items():
        proposal = by_account[account_id]
        number = proposal.account.custodian_number
        traded = {t["symbol"] for t in (proposal.result or {}).get("trades") or ()}
        drops = sorted({s.strip().upper() for s in edit.drop_symbols if s.strip()})
        missing = [s for s in drops if s not in traded]
        if missing:
            raise ValidationFailed(f"{number}: the proposal does not trade {', '.join(missing)}.",
                                   detail={"account": account_id, "symbols": missing})
        try:
            added = instructions_clean(edit.instructions, drops, account_id)
        except ValidationFailed as exc:
            raise ValidationFailed(f"{number}: {exc.message}", code=exc.code,
                                   detail={"account": account_id, **(exc.detail or {})}) from None
        if drops or added:
            out[account_id] = (drops, added)
    if not out:
        raise ValidationFailed("Drop a trade or add an instruction in one of the accounts before solving again.",
                               detail={"field": "edit"})
    return out


def _revision(proposal: Proposal, drops: list[str], added: list[InstructionAdded]) -> dict:
    """An edited account's ``Proposal.revision``, as a single account's edit records it."""
    sides = {t["symbol"]: t["side"] for t in (proposal.result or {}).get("trades") or ()}
    return {"dropped": [{"symbol": s, "side": sides[s]} for s in drops],
            "instructions": [i.words() for i in added],
            "changes": [f"dropped the {sides[s]} of {s}" for s in drops] + [i.words() for i in added]}


@transaction.atomic
def household_proposal_resolve(*, household_proposal: HouseholdProposal, edits: Mapping[int, AccountEdit],
                               by) -> HouseholdProposal:
    """Solve the household again with ``edits`` (by account id) laid over its accounts' parameters;
    the new household proposal supersedes this one and waits for approval. Returns the new one.
    A refused or unsolvable edit raises and writes nothing."""
    together = HouseholdProposal.objects.select_for_update().select_related("household", "run") \
        .get(pk=household_proposal.pk)
    members = _members_locked(together, by)
    by_account = {p.account_id: p for p in members}
    household = together.household
    cleaned = _edits_clean(edits, members)
    parameter_edits = {}
    for a, (drops, added) in cleaned.items():
        try:
            parameter_edits[a] = edit_as_parameters(by_account[a].parameters, drops, added)
        except ValidationFailed as exc:  # (which account: the household's edit spans several)
            raise ValidationFailed(f"{by_account[a].account.custodian_number}: {exc.message}", code=exc.code,
                                   detail={"account": a, **(exc.detail or {})}) from None

    as_of = together.run.as_of
    # The household's accounts are the proposal's (``_members_locked`` checked it).
    loaded = rebalance_inputs_load(sorted(by_account), as_of=as_of, edits=parameter_edits)
    inputs = household_inputs_from(household, loaded, as_of=as_of)
    if inputs.error is not None:
        raise ValidationFailed(f"The edited household cannot be solved: {inputs.error.message}",
                               code=inputs.error.code, detail=inputs.error.detail)
    try:
        result = engine.rebalance_household(inputs.request)
    except engine.EngineError as exc:
        raise ValidationFailed(f"The edited household cannot be solved: {exc.message}", code=exc.code,
                               detail=exc.detail or {}) from None
    if not any(r.trades for r in result.accounts):
        raise Conflict("With these edits nothing is left to trade in any account: reject the proposal instead.",
                       code="nothing_to_trade")

    run = run_by_person(RebalanceRun.Kind.REVISION, RunScope(household_id=together.household_id), as_of, by,
                        accounts=len(members))
    revisions = {a: _revision(by_account[a], drops, added) for a, (drops, added) in cleaned.items()}
    changes_by_number = {by_account[a].account.custodian_number: r["changes"] for a, r in revisions.items()}
    changes = [f"{number}: {change}" for number, words in sorted(changes_by_number.items()) for change in words]
    new, proposals = household_proposal_build(run, inputs, result)
    # With wash sales allowed, the ledger's figures in place of the engine's estimate (``tax_estimates``).
    restated = household_restated_for_ledger(new, proposals, as_of)
    new.revised_from, new.revised_by = together, by
    new.revision = {"changes": changes, "accounts": changes_by_number}
    new.save()

    policy = ApprovalPolicy.current()
    for proposal in proposals:
        old = by_account[proposal.account_id]
        proposal.household_proposal = new
        proposal.revised_from, proposal.revised_by, proposal.chosen_by = old, by, old.chosen_by_with(by)
        proposal.revision = revisions.get(proposal.account_id) or {
            "dropped": [], "instructions": [], "changes": [f"solved again with its household ({'; '.join(changes)})"]}
        proposal.save()
        _move(old, S.SUPERSEDED, actor=by, action=Action.PROPOSAL_SUPERSEDE,
              comment=f"revised into #{proposal.pk} with household proposal #{new.pk}: {'; '.join(changes)}")
        decision = policy_decide(policy, proposal, discretionary=old.account.discretionary)
        proposal.requires_compliance = decision.requires_compliance
        _move(proposal, S.PENDING, actor=by, action=Action.PROPOSAL_SUBMIT, comment="; ".join(decision.reasons))
    RunOutcome.objects.bulk_create([RunOutcome(run=run, account_id=p.account_id, outcome=RunOutcome.Outcome.PROPOSED)
                                    for p in proposals])
    alerts_record(run, [(m.account_id, r) for m, r in zip(inputs.members, result.accounts, strict=True)],
                  restated=restated)
    audit_record(actor=by, action=Action.HOUSEHOLD_PROPOSAL_REVISE, obj=new, comment="; ".join(changes),
                 before={"household_proposal": together.pk, "proposals": {str(p.pk): p.status for p in members},
                         "estimated_tax": str(together.estimated_tax)},
                 after={"household_proposal": new.pk, "proposals": [p.pk for p in proposals],
                        "estimated_tax": str(new.estimated_tax), "changes": changes_by_number})
    # Approvers hear of it as of a run's new proposals (their notification preferences apply).
    transaction.on_commit(lambda: dispatch.send(dispatch.APPROVERS_NOTIFY, run.pk))
    return new


def household_restated_for_ledger(together: HouseholdProposal, proposals: list[Proposal], as_of) -> list[Proposal]:
    """A person's new household proposal (an edit, a one-off instruction) with the ledger's figures
    in place of the engine's estimate where its household allows wash sales (``tax_estimates``),
    netted after the household's proposals left open beside it; the household's estimate follows.
    Returns the proposals restated."""
    if not any(wash_sales_allowed(p) for p in proposals):
        return []
    restated = proposals_restate_for_ledger(proposals, as_of=as_of, open_before=realised_open_beside(
        [together.household_id], [p.account_id for p in proposals], as_of.year))
    if restated:
        together.estimated_tax = sum((Decimal(str(p.estimated_tax)) for p in proposals), Decimal(0))
    return restated
