"""The approval workflow: a proposal's life from the engine's draft to released trades.

    draft -> pending_approval -> approved -> released -> executed
               \\-> rejected      (and any open proposal -> expired | superseded)

Every move goes through ``_move``, which refuses what the state machine does not allow, locks the
row (two people approving at once get one consistent outcome) and writes the audit record in the
same transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet, TextField
from django.db.models.functions import Cast, Coalesce
from django.utils import timezone

from rebalancing.access import (
    decision_capacity,
    decision_refusal,
    own_choice_approval_refusal,
    proposals_visible_to,
)
from rebalancing.array_filters import any_of
from rebalancing.copy_writes import objects_insert_by_copy
from rebalancing.engine.tax import gift_basis
from rebalancing.engine.wash_sales import WINDOW_DAYS, Equivalence, buyable_on, harvestable_on
from rebalancing.engine.words import dollars
from rebalancing.ledger.orders import orders_create
from rebalancing.ledger.quantities import cents_of_float
from rebalancing.models import (
    Account,
    ApprovalPolicy,
    HouseholdProposal,
    Proposal,
    ProposalApproval,
    RebalanceRun,
    RestrictedSecurity,
    Security,
    TaxLot,
)
from rebalancing.planned_trades import LossSale, Purchase, household_loss_sales, household_purchases
from rebalancing.services.alerts import drift_alert_resolve_executed, drift_alerts_follow_superseded
from rebalancing.services.lot_terms import lots_turned, tax_year_passed
from rebalancing.services.payouts import cash_flow_pay
from rebalancing.services.tax_estimates import OPEN_FOR_TAX, open_estimates_restate, wash_sales_allowed
from rebalancing.webhooks import events as webhook_events
from rebalancing.webhooks.events import EventType
from tenants.audit.actions import Action
from tenants.audit.services import audit_many, audit_record
from tenants.errors import Conflict, DomainError, NotFound, PermissionDenied, ValidationFailed
from tenants.permissions import Capability, user_can
from tenants.selectors import firm_active_check

__all__ = [
    "BulkOutcome",
    "HouseholdLegsWaiting",
    "IllegalTransition",
    "bulk_approvable",
    "compliance_required",
    "household_proposal_decide",
    "rejection_reason_check",
    "PolicyDecision",
    "TRANSITIONS",
    "approvals_missing",
    "policy_decide",
    "proposal_approve",
    "proposal_mark_executed",
    "proposal_reject",
    "proposal_release",
    "proposal_submit",
    "proposals_approve_bulk",
    "proposals_expire_stale",
    "household_legs_waiting",
    "household_legs_words",
    "proposals_insert_submitted",
    "proposals_release_ready",
    "released_with",
    "proposals_submit_new",
    "proposals_release_bulk",
    "proposals_supersede",
    "proposals_supersede_lots_changed",
    "proposals_supersede_restricted",
    "restricted_trades",
]

S = Proposal.Status
OPEN = (S.DRAFT, S.PENDING, S.APPROVED)
TRANSITIONS: dict[str, frozenset[str]] = {
    S.DRAFT: frozenset({S.PENDING, S.APPROVED, S.EXPIRED, S.SUPERSEDED}),
    S.PENDING: frozenset({S.APPROVED, S.REJECTED, S.EXPIRED, S.SUPERSEDED}),
    # Back to pending: its restated tax needs approvals it lacks (tax_estimates._approvals_lapse);
    # rejected: a leg of a household proposal another leg of which is rejected (``proposal_reject``).
    S.APPROVED: frozenset({S.RELEASED, S.PENDING, S.EXPIRED, S.SUPERSEDED, S.REJECTED}),
    S.RELEASED: frozenset({S.EXECUTED}),
    S.EXECUTED: frozenset(),
    S.REJECTED: frozenset(),
    S.EXPIRED: frozenset(),
    S.SUPERSEDED: frozenset(),
}


class IllegalTransition(Conflict):
    code = "illegal_transition"


@dataclass(frozen=True)
class PolicyDecision:
    auto_approve: bool
    requires_compliance: bool
    reasons: tuple[str, ...]


def policy_decide(policy: ApprovalPolicy, proposal: Proposal, *, discretionary: bool) -> PolicyDecision:
    """Who must approve this proposal under the firm's policy, and why."""
    reasons = []
    compliance = False
    if proposal.estimated_tax >= policy.compliance_min_estimated_tax:
        compliance = True
        reasons.append(f"estimated tax {dollars(float(proposal.estimated_tax))} ≥ "
                       f"{dollars(float(policy.compliance_min_estimated_tax))}")
    if proposal.turnover >= policy.compliance_min_turnover:
        compliance = True
        reasons.append(f"turnover {proposal.turnover:.1%} ≥ {policy.compliance_min_turnover:.1%}")
    if policy.compliance_on_restricted and proposal.restricted_traded:
        compliance = True
        reasons.append(_restricted_words(proposal))
    auto = (
        policy.auto_approve
        and discretionary
        and not compliance
        and proposal.estimated_tax <= policy.auto_max_estimated_tax
        and proposal.turnover <= policy.auto_max_turnover
        and proposal.trade_count <= policy.auto_max_trades
    )
    return PolicyDecision(auto, compliance, tuple(reasons))


def _restricted_words(proposal: Proposal) -> str:
    """Which securities of the firm's restricted list ``proposal`` trades, for compliance to read:
    "a restricted security is traded: VTI (do not buy)". Only the firm's list counts for the
    approval policy (docs/frontend.md, /restricted/): a client's own restriction on an account (do
    not sell, hold, an advisor's "do not trade" instruction) is the account's parameters, decided
    with it, not a compliance matter. The list is the one in force on the proposal's run day, the
    day it was solved on (``runs._trades_restricted``). Unnamed when the proposal was read without
    its result (a bulk submit reads only the policy's columns)."""
    if "result" in proposal.get_deferred_fields():
        return "a restricted security is traded"
    result = proposal.result if isinstance(proposal.result, dict) else {}
    traded = list(dict.fromkeys(t.get("symbol", "") for t in result.get("trades") or () if _traded(t)))
    entries = restricted_entries_on(proposal.run.as_of) if traded else {}
    named = [f"{symbol} ({_LIST_WORDS[entries[symbol].restriction]})" for symbol in traded if symbol in entries]
    if named:
        return f"a restricted security is traded: {', '.join(named)}"
    return "a restricted security is traded"


def _move(proposal: Proposal, to: str, *, actor, action: str, comment: str = "") -> Proposal:
    if to not in TRANSITIONS[proposal.status]:
        raise IllegalTransition(
            f"A proposal that is {proposal.get_status_display().lower()} cannot become "
            f"{Proposal.Status(to).label.lower()}.",
            detail={"from": proposal.status, "to": to},
        )
    before = proposal.status
    proposal.status = to
    proposal.status_changed_at = timezone.now()
    proposal.save(update_fields=["status", "status_changed_at", "requires_compliance"])
    audit_record(actor=actor, action=action, obj=proposal, before={"status": before}, after={"status": to},
                 comment=comment)
    if before in OPEN_FOR_TAX and to in _LEAVING:
        open_estimates_restate([proposal.account.household_id], actor=actor,
                               because=f"#{proposal.pk} ({proposal.account.custodian_number}) became {to}")
    if to == S.SUPERSEDED:  # its drift alert leads to the proposal that replaced it (a revision, an instruction)
        drift_alerts_follow_superseded(account_ids=[proposal.account_id])
    if to in _ANNOUNCED:
        webhook_events.proposals_decided(_ANNOUNCED[to], [proposal.pk], by=_who(actor, action), comment=comment)
    return proposal


# Moves that take a proposal's planned sales out of its household's tax estimates
# (services.tax_estimates); a release does not: its open sales count until they are filled or cancelled.
_LEAVING = (S.REJECTED, S.EXPIRED, S.SUPERSEDED)

# The moves a firm's systems are told about (webhooks); expiry and supersession are not.
_ANNOUNCED = {S.PENDING: EventType.PROPOSAL_PENDING, S.APPROVED: EventType.PROPOSAL_APPROVED,
              S.REJECTED: EventType.PROPOSAL_REJECTED}


def _who(actor, action: str) -> str:
    if action == "proposal.auto_approve":
        return "policy"
    if getattr(actor, "pk", None):
        return actor.get_username()
    return str(actor or "system")


def _locked(proposal: Proposal) -> Proposal:
    return Proposal.objects.select_for_update().select_related("account__household").get(pk=proposal.pk)


@transaction.atomic
def proposal_submit(*, proposal: Proposal, actor=None) -> Proposal:
    """Draft -> approved (within the auto-approval limits) or pending approval. A proposal whose
    trades a person chose (``chosen_by``: a one-off instruction) never takes the auto-approval: as
    an edit (``services.revisions``), a person chose it, so a person approves it (separation of
    duties: the chooser is not its approver, ``access.decision_capacity``)."""
    proposal = _locked(proposal)
    decision = policy_decide(ApprovalPolicy.current(), proposal, discretionary=proposal.account.discretionary)
    proposal.requires_compliance = decision.requires_compliance
    if decision.auto_approve and proposal.chosen_by:
        # (Within the auto-approval limits, so no compliance reason: the only reason it waits.)
        return _move(proposal, S.PENDING, actor=actor, action="proposal.submit", comment=_CHOSEN_WAITS)
    if decision.auto_approve:
        ProposalApproval.objects.create(proposal=proposal, capacity=ProposalApproval.Capacity.POLICY,
                                        decision=ProposalApproval.Decision.APPROVE,
                                        comment="within the firm's auto-approval limits")
        return _move(proposal, S.APPROVED, actor=actor, action="proposal.auto_approve",
                     comment="within the firm's auto-approval limits")
    return _move(proposal, S.PENDING, actor=actor, action="proposal.submit", comment="; ".join(decision.reasons))


_CHOSEN_WAITS = "a person chose its trades (a one-off instruction): a person approves it, not the policy"


def _capacity(proposal: Proposal, user, decision: str) -> str:
    """The capacity in which ``user`` may make ``decision`` on ``proposal``; refuse if none is open to them."""
    if proposal.approvals.filter(user_id=user.pk).exists():
        raise Conflict("You have already decided on this proposal; a second approval must come from someone else.",
                       code="already_decided")
    capacity = decision_capacity(user, proposal)
    if capacity is None:
        # The second approval is a second person's look at the trades: whoever chose them (an edit or
        # a one-off instruction) is not that person, whatever roles they hold (decision_refusal says so).
        raise decision_refusal(user, proposal)
    if decision == ProposalApproval.Decision.APPROVE and capacity == ProposalApproval.Capacity.ADVISOR \
            and (refusal := own_choice_approval_refusal(user, proposal)) is not None:
        raise refusal
    return capacity


def _decide(proposal: Proposal, user, decision: str, comment: str) -> tuple[Proposal, str]:
    proposal = _locked(proposal)
    if proposal.status != S.PENDING:
        raise IllegalTransition(
            f"Only a proposal pending approval can be decided on; this one is {proposal.get_status_display().lower()}.",
            detail={"status": proposal.status},
        )
    capacity = _capacity(proposal, user, decision)
    try:
        with transaction.atomic():
            ProposalApproval.objects.create(proposal=proposal, user=user, capacity=capacity, decision=decision,
                                            comment=comment)
    except IntegrityError:
        raise Conflict("This proposal has just been decided on by someone else; reload it.",
                       code="concurrent_decision") from None
    return proposal, capacity


@transaction.atomic
def proposal_approve(*, proposal: Proposal, user, comment: str = "", today: date | None = None) -> Proposal:
    """Record the user's approval; the proposal is approved once every required approval is in.
    Refused while it trades a security against the firm's restricted list in force ``today``."""
    proposal, capacity = _decide(proposal, user, ProposalApproval.Decision.APPROVE, comment)
    _restricted_refuse([proposal], today or timezone.localdate(), "approved")
    if proposal.household_proposal_id:
        _household_legs_gone_refuse(proposal.household_proposal_id)
    policy = ApprovalPolicy.current()
    flagged = compliance_flag_now(policy, proposal)
    missing = approvals_missing(proposal, policy=policy)
    if not missing:
        return _move(proposal, S.APPROVED, actor=user, action=f"proposal.approve.{capacity}", comment=comment)
    after = {"status": proposal.status, "waiting_for": sorted(missing)}
    if flagged:  # why compliance now must approve it: the policy as it stands (its stored flag is set)
        after["requires_compliance"] = flagged
    audit_record(actor=user, action=f"proposal.approve.{capacity}", obj=proposal,
                 before={"status": proposal.status}, after=after, comment=comment)
    return proposal


def compliance_required(policy: ApprovalPolicy, proposal: Proposal) -> bool:
    """Whether ``proposal`` (pending) needs compliance's approval under ``policy`` as it stands now:
    once asked at submission (or by a restated tax), always asked - a loosened policy does not take
    back a review already asked for - and asked too when the policy has since been tightened past
    its figures. ``bulk_approvable`` and a single approval (``approvals_missing``) both read this."""
    return proposal.requires_compliance or policy_decide(policy, proposal, discretionary=False).requires_compliance


def compliance_flag_now(policy: ApprovalPolicy, proposal: Proposal) -> str:
    """Set (and save) the stored ``requires_compliance`` of ``proposal`` where the policy as it stands
    asks compliance's approval of it and its submission did not (compliance's capacity reads the
    stored flag, ``access.decision_capacity``); the policy's reasons, or "" when nothing changed."""
    if proposal.requires_compliance:
        return ""
    decision = policy_decide(policy, proposal, discretionary=False)
    if not decision.requires_compliance:
        return ""
    proposal.requires_compliance = True
    proposal.save(update_fields=["requires_compliance"])
    return "the firm's approval policy as it stands: " + "; ".join(decision.reasons)


def approvals_missing(proposal: Proposal, *, policy: ApprovalPolicy | None = None) -> list[str]:
    """The approvals (capacities) ``proposal`` still waits for: its advisor's, then compliance's
    where the policy requires it - for a proposal pending approval, the policy as it stands
    (``compliance_required``: a threshold lowered since its submission asks compliance too), as
    bulk approval reads it; a decided one, as it was decided."""
    have = set(proposal.approvals.filter(decision=ProposalApproval.Decision.APPROVE).values_list("capacity", flat=True))
    if proposal.status == S.PENDING:
        compliance = compliance_required(policy or ApprovalPolicy.current(), proposal)
    else:
        compliance = proposal.requires_compliance
    need = [ProposalApproval.Capacity.ADVISOR] + ([ProposalApproval.Capacity.COMPLIANCE] if compliance else [])
    return [c for c in need if c not in have]


# What each entry of the firm's restricted list forbids. A proposal is solved on its run's day's list:
# an entry added since (or coming into force since) is checked again when it is approved or released.
_LIST_FORBIDS = {"do_not_buy": ("buy",), "do_not_trade": ("buy", "sell")}
_LIST_WORDS = {"do_not_buy": "do not buy", "do_not_trade": "do not trade"}


def restricted_entries_on(day: date) -> dict[str, RestrictedSecurity]:
    """The firm's restricted list in force on ``day``, by symbol (do not trade wins), one query."""
    out: dict[str, RestrictedSecurity] = {}
    for entry in RestrictedSecurity.objects.in_force_on(day).select_related("security").order_by("pk"):
        held = out.get(entry.security.symbol)
        if held is None or entry.restriction == RestrictedSecurity.Restriction.DO_NOT_TRADE:
            out[entry.security.symbol] = entry
    return out


def restricted_trades(proposal: Proposal, entries: dict[str, RestrictedSecurity]
                      ) -> list[tuple[str, str, RestrictedSecurity]]:
    """The trades of ``proposal`` the ``entries`` forbid: (symbol, side, entry) each."""
    result = proposal.result if isinstance(proposal.result, dict) else {}
    against = []
    for trade in result.get("trades") or ():
        entry = entries.get(trade.get("symbol"))
        if entry is not None and trade.get("side") in _LIST_FORBIDS[entry.restriction] and _traded(trade):
            against.append((trade["symbol"], trade["side"], entry))
    return against


def _traded(trade: dict) -> bool:
    try:
        return Decimal(str(trade.get("quantity") or 0)) > 0
    except ArithmeticError:
        return True  # unreadable: counted as traded rather than let through


def restricted_entry_words(entry: RestrictedSecurity) -> str:
    """"the firm's restricted list (do not buy, from Dec 6, 2026: Deal team on the issuer)"."""
    span = f"from {entry.starts_on:%b %-d, %Y}" + (f" until {entry.until:%b %-d, %Y}" if entry.until else "")
    return f"the firm's restricted list ({_LIST_WORDS[entry.restriction]}, {span}: {entry.reason})"


def _restricted_refuse(proposals: list[Proposal], today: date, doing: str) -> None:
    """Refuse approving or releasing proposals that trade a security against an entry in force ``today``."""
    entries = restricted_entries_on(today)
    if not entries:
        return
    for proposal in proposals:
        against = restricted_trades(proposal, entries)
        if not against:
            continue
        symbol, side, entry = against[0]
        more = f" (and {len(against) - 1} more trade{'s' if len(against) > 2 else ''} so)" if len(against) > 1 else ""
        raise Conflict(
            f"Proposal #{proposal.pk} {'buys' if side == 'buy' else 'sells'} {symbol}{more}, which is on "
            f"{restricted_entry_words(entry)} on {today:%b %-d, %Y}: it cannot be {doing}. Rebalance the account "
            "again: the new proposal keeps to the list.", code="restricted_security",
            detail={"proposal": proposal.pk, "symbol": symbol, "side": side, "entry": entry.pk,
                    "restriction": entry.restriction, "trades": [{"symbol": s, "side": d, "entry": e.pk}
                                                                 for s, d, e in against]})


@dataclass(frozen=True)
class BulkOutcome:
    proposal_id: int
    label: str
    ok: bool
    message: str


def bulk_approvable(policy: ApprovalPolicy, proposal: Proposal) -> tuple[bool, str]:
    """Bulk approval is for proposals the firm's policy lets one approval settle: below every
    compliance threshold (estimated tax, turnover) and trading no restricted security. Anything
    above a threshold is opened and read before it is approved."""
    if compliance_required(policy, proposal):  # the rule a single approval follows (``approvals_missing``)
        reasons = policy_decide(policy, proposal, discretionary=False).reasons
        return False, "above the policy's review thresholds: " + ("; ".join(reasons) or "compliance review")
    return True, ""


def proposals_approve_bulk(*, proposal_ids: list[int], user, comment: str) -> list[BulkOutcome]:
    """Approve each proposal (in its own transaction, through ``proposal_approve``) that the user
    may see and the policy lets a bulk approval settle; say what happened to each."""
    policy = ApprovalPolicy.current()
    found = {p.pk: p for p in proposals_visible_to(user).filter(pk__in=proposal_ids).select_related("account")}
    outcomes = []
    for pk in proposal_ids:
        proposal = found.get(pk)
        if proposal is None:
            outcomes.append(BulkOutcome(pk, f"#{pk}", False, "not found, or not yours to see"))
            continue
        label = f"#{pk} {proposal.account.custodian_number}"
        ok, why = bulk_approvable(policy, proposal)
        if not ok:
            outcomes.append(BulkOutcome(pk, label, False, f"not approved: {why}"))
            continue
        try:
            proposal = proposal_approve(proposal=proposal, user=user, comment=comment)
        except DomainError as exc:
            outcomes.append(BulkOutcome(pk, label, False, exc.message))
            continue
        outcomes.append(BulkOutcome(pk, label, True, proposal.get_status_display().lower()))
    return outcomes


@transaction.atomic
def proposal_reject(*, proposal: Proposal, user, comment: str) -> Proposal:
    """Pending -> rejected; a leg of a household proposal takes the household's other open legs
    with it (``_household_rejected``)."""
    proposal = _reject_one(proposal, user, comment)
    if proposal.household_proposal_id:
        _household_rejected(proposal, user, comment)
    return proposal


def rejection_reason_check(comment: str | None) -> str:
    """``comment`` if it says why a proposal is rejected: a rejection always does (the audit trail
    and the advisor read it); the API's request body says so too (``RejectionSerializer``)."""
    if comment is None or not comment.strip():
        raise ValidationFailed("Say why the proposal is rejected.", detail={"field": "comment"})
    return comment


def _reject_one(proposal: Proposal, user, comment: str) -> Proposal:
    rejection_reason_check(comment)
    proposal, capacity = _decide(proposal, user, ProposalApproval.Decision.REJECT, comment)
    return _move(proposal, S.REJECTED, actor=user, action=f"proposal.reject.{capacity}", comment=comment)


# A household proposal's legs are released together or not at all (``_release_together``): once one
# is rejected the others can never go out, so they are rejected with it rather than left waiting.
_LEG_OPEN = (S.PENDING, S.APPROVED)


def _household_rejected(rejected: Proposal, user, comment: str) -> list[Proposal]:
    """The other open legs of ``rejected``'s household proposal, rejected with it (each audited with
    the leg that took it and the reason given)."""
    legs = list(Proposal.objects.select_for_update(of=("self",)).select_related("account")
                .filter(pk__in=open_legs_with(rejected)).order_by("pk"))
    because = (f"rejected with #{rejected.pk} ({rejected.account.custodian_number}), rejected by "
               f"{_who(user, 'proposal.reject')}: {comment.strip()} - the household's accounts were solved as one "
               "and go out together or not at all")
    return [_move(leg, S.REJECTED, actor=user, action=Action.PROPOSAL_REJECT_WITH_HOUSEHOLD,
                  comment=because)
            for leg in legs]


@transaction.atomic
def household_proposal_decide(*, household_proposal: HouseholdProposal, user, approve: bool,
                              comment: str = "") -> list[Proposal]:
    """One decision on a household's proposals: every one of them pending that ``user`` may decide
    is approved (or rejected) through ``proposal_approve``/``proposal_reject``, in one transaction,
    so they move together or not at all. Returns the household's proposals after the decision."""
    members = list(Proposal.objects.select_for_update().filter(household_proposal_id=household_proposal.pk)
                   .order_by("pk"))
    visible = proposals_visible_to(user).filter(household_proposal_id=household_proposal.pk).count()
    if not members or visible != len(members):
        raise NotFound("Not found, or not yours to see.")
    pending = [p for p in members if p.status == S.PENDING]
    if not pending:
        raise IllegalTransition("None of this household's proposals is pending approval.",
                                detail={"statuses": sorted({p.status for p in members})})
    if approve:
        _household_legs_gone_refuse(household_proposal.pk, members)
    mine = [p for p in pending if decision_capacity(user, p) is not None]
    if not mine:
        # Sent twice: a conflict, as for one proposal (``_capacity``), not a want of permission.
        if ProposalApproval.objects.filter(proposal__in=pending, user_id=user.pk).exists():
            raise Conflict("You have already decided on this household's proposals; the approvals they still "
                           "wait for must come from someone else.", code="already_decided",
                           detail={"household_proposal": household_proposal.pk})
        raise decision_refusal(user, pending[0], what="this household's proposals")
    before = {str(p.pk): p.status for p in members}
    for p in mine:
        if approve:
            proposal_approve(proposal=p, user=user, comment=comment)
        else:
            _reject_one(p, user, comment)
    if not approve:
        _household_rejected(mine[0], user, comment)
    after = dict(Proposal.objects.filter(pk__in=[p.pk for p in members]).values_list("pk", "status"))
    audit_record(actor=user, obj=household_proposal, comment=comment,
                 action=Action.HOUSEHOLD_PROPOSAL_APPROVE if approve else Action.HOUSEHOLD_PROPOSAL_REJECT,
                 before={"proposals": before}, after={"proposals": {str(k): v for k, v in after.items()}})
    return list(Proposal.objects.filter(household_proposal_id=household_proposal.pk).order_by("pk"))


def _household_legs_gone_refuse(household_proposal_id: int, legs: list[Proposal] | None = None) -> None:
    """Refuse, naming the leg, approving a household proposal (or a leg of it) one of whose legs has
    left it (superseded, expired, rejected): its accounts were solved as one, and what is left of it
    is not the plan that was solved. A new run of the household proposes again."""
    if legs is None:
        legs = list(Proposal.objects.filter(household_proposal_id=household_proposal_id).order_by("pk"))
    gone = [leg for leg in legs if leg.status in _LEAVING]
    if not gone:
        return
    leg = gone[0]
    number = Account.objects.filter(pk=leg.account_id).values_list("custodian_number", flat=True).first()
    raise Conflict(
        f"Household proposal #{household_proposal_id} cannot be approved: its proposal #{leg.pk} for {number} is "
        f"{leg.get_status_display().lower()}, and the household's accounts were solved as one (they go out "
        "together or not at all). Rebalance the household again.",
        code="household_leg_gone",
        detail={"household_proposal": household_proposal_id, "proposal": leg.pk, "account": number,
                "status": leg.status, "legs_gone": [g.pk for g in gone]})


class HouseholdLegsWaiting(Conflict):
    code = "household_legs_waiting"


# A leg of a household proposal goes out with the others, never alone: the household was solved as
# one (an asset-location plan buys in one account what it sells in another), so its legs are
# released once every one is approved - or released already, by the same release-all a moment ago.
_LEG_READY = (S.APPROVED, S.RELEASED, S.EXECUTED)


def _legs_not_ready():
    """The legs (of the household proposal of the outer query's proposal) not approved yet."""
    return (Proposal.objects.filter(household_proposal_id=OuterRef("household_proposal_id"))
            .exclude(status__in=_LEG_READY))


def proposals_release_ready(proposals: QuerySet) -> QuerySet:
    """The approved ``proposals`` a release may take now: all but the legs of a household proposal
    some other leg of which is not approved yet (``household_legs_waiting`` names those)."""
    return proposals.filter(status=S.APPROVED).exclude(Exists(_legs_not_ready()))


def household_legs_waiting(proposals) -> dict[int, list[Proposal]]:
    """For each approved proposal of ``proposals`` that waits for its household's other accounts,
    those accounts' proposals still not approved (with their accounts), by its id. Two queries."""
    legs = {p.pk: p.household_proposal_id for p in proposals
            if p.household_proposal_id and p.status == S.APPROVED}
    if not legs:
        return {}
    behind: dict[int, list[Proposal]] = {}
    for other in (Proposal.objects.filter(household_proposal_id__in=set(legs.values()))
                  .exclude(status__in=_LEG_READY).select_related("account").order_by("account__custodian_number")):
        behind.setdefault(other.household_proposal_id, []).append(other)
    return {pk: behind[group] for pk, group in legs.items() if group in behind}


def household_legs_words(legs: list[Proposal]) -> str:
    """The legs a household's proposal waits for, in words: "#12 LEE-IRA (pending approval), ..."."""
    return ", ".join(f"#{p.pk} {p.account.custodian_number} ({p.get_status_display().lower()})" for p in legs)


def _release_together(proposal: Proposal) -> list[Proposal]:
    """``proposal`` locked, with - for a leg of a household proposal - its other approved legs, locked
    in id order (two releases of two legs at once take the locks alike). A leg is refused while
    another is not approved (one approved back to pending meanwhile - restated tax - is seen)."""
    if not proposal.household_proposal_id:
        return [_locked(proposal)]
    legs = list(Proposal.objects.select_for_update(of=("self",)).select_related("account__household", "run")
                .filter(household_proposal_id=proposal.household_proposal_id).order_by("pk"))
    this = next(leg for leg in legs if leg.pk == proposal.pk)
    if this.status != S.APPROVED:
        return [this]  # not releasable: ``_move`` says why
    behind = sorted((leg for leg in legs if leg.status not in _LEG_READY), key=lambda leg: leg.account.custodian_number)
    if behind:
        raise HouseholdLegsWaiting(
            f"Proposal #{proposal.pk} was solved with its household's other accounts as one and is released with "
            f"them, once each is approved; still waiting for {household_legs_words(behind)}.",
            detail={"household_proposal": proposal.household_proposal_id,
                    "waiting_for": [{"proposal": p.pk, "account": p.account.custodian_number, "status": p.status}
                                    for p in behind]})
    return [this] + [leg for leg in legs if leg.pk != this.pk and leg.status == S.APPROVED]


def proposal_release(*, proposal: Proposal, user, comment: str = "", today: date | None = None) -> Proposal:
    """Approved -> released, with its orders (rebalancing.ledger.orders) in the same transaction.
    A proposal priced too long ago expires instead (the expiry is kept; the caller is told with a
    Conflict). A leg of a household proposal is refused while another leg is not approved, and goes
    out with the others - released, or expired when any of them is too old - in one transaction:
    the household was solved as one (what one account sells, another buys); asked again for a leg
    that went out so, it answers it as it is. Returns ``proposal``."""
    if not user_can(user, Capability.RELEASE):
        raise PermissionDenied("Only a portfolio manager releases approved trades.")
    firm_active_check("No trade is released")
    policy = ApprovalPolicy.current()
    today = today or timezone.localdate()
    with transaction.atomic():
        legs = _release_together(proposal)
        if legs[0].household_proposal_id and legs[0].status in (S.RELEASED, S.EXECUTED):
            return legs[0]  # went out with its household's other legs: released, as asked
        # As old as its oldest price, not its run's day: a run on stale prices is not fresh advice.
        priced = min(leg.priced_on or leg.run.as_of for leg in legs)
        stale = legs[0].status == S.APPROVED and (today - priced).days > policy.max_price_age_days
        fresh = not stale and legs[0].status == S.APPROVED
        new_year = fresh and any(tax_year_passed(leg, today) for leg in legs)
        turned = [t for leg in legs for t in lots_turned(leg, today)] if fresh and not new_year else []
        if not stale and not new_year and not turned:
            _restricted_refuse(legs, today, "released")
            _wash_window_refuse(legs, today)
            released = [_release_one(leg, user=user, comment=comment, today=today) for leg in legs]
            return released[0]
        run_day = legs[0].run.as_of
        why = (f"priced on {priced}, more than {policy.max_price_age_days} days ago" if stale else
               f"priced for tax year {run_day.year}, released in {today.year}" if new_year else
               f"{len(turned)} lot{'s' if len(turned) != 1 else ''} sold turned long-term since the run's day "
               f"({run_day})")
        for leg in legs:
            _move(leg, S.EXPIRED, actor=user, action="proposal.expire", comment=why)
    together = f" with its household's other accounts ({len(legs) - 1} more)" if len(legs) > 1 else ""
    if new_year:
        raise Conflict(f"The proposal has expired{together}: its run ({run_day}) estimated the tax of its sales on "
                       f"the {run_day.year} return, but sold from {today} they are realised in {today.year} and "
                       f"net with that year's gains and losses instead, against that year's tax budget. Rebalance "
                       f"the account again to price them for {today.year}.", code="tax_year_changed",
                       detail={"priced_for": run_day.year, "released_in": today.year})
    if turned:
        raise Conflict(f"The proposal has expired{together}: it prices its sales as of {legs[0].run.as_of}, and on "
                       f"{today} {'; '.join(t.words() for t in turned[:5])}"
                       f"{f' (and {len(turned) - 5} more)' if len(turned) > 5 else ''}. Its estimated tax and its "
                       "choice of lots assumed the other rate; rebalance the account again to price them as of today.",
                       code="lot_terms_changed",
                       detail={"lots": [{"proposal": t.proposal, "account": t.account, "lot_id": t.lot_id,
                                         "priced_as": t.priced_as, "term": t.term,
                                         "long_term_from": str(t.long_term_from)} for t in turned]})
    raise Conflict(f"The proposal was priced on {priced} and has expired{together}; import prices and rebalance "
                   "again.", code="proposal_expired")


def _sold_at_a_loss(proposal: Proposal) -> list[tuple[str, str, Decimal, date | None]]:
    """(symbol, lot id, loss, the day the lot was bought) of each lot ``proposal`` sells at a loss:
    at its price, against the lot's basis in the ledger now (a gift's for a loss, IRC §1015(a)); a
    lot the ledger does not hold by its own figure (none: not judged)."""
    sales = []
    for trade in (proposal.result or {}).get("trades") or ():
        if trade.get("side") == "sell" and _traded(trade):
            sales += [(trade, lot) for lot in trade.get("lots") or [
                {"lot_id": "", "quantity": trade.get("quantity"), "gain": trade.get("realised_gain")}]]
    if not sales:
        return []
    held = {lot.lot_id: lot for lot in TaxLot.objects.filter(
        account_id=proposal.account_id, lot_id__in={str(lot.get("lot_id") or "") for _, lot in sales})}
    out = []
    for trade, lot in sales:
        quantity = Decimal(str(lot.get("quantity") or 0))
        ledger = held.get(str(lot.get("lot_id") or ""))
        if ledger is not None and ledger.quantity > 0 and trade.get("price") is not None:
            proceeds = quantity * Decimal(str(trade["price"]))
            basis = ledger.cost_basis * quantity / ledger.quantity
            if ledger.gift_unit_value is not None:
                basis = gift_basis(proceeds, basis, ledger.gift_unit_value * quantity)
            gain = proceeds - basis
        elif lot.get("gain") is not None:
            gain = Decimal(str(lot["gain"]))
        else:
            continue
        if quantity > 0 and gain <= Decimal("-0.005"):
            out.append((trade["symbol"], str(lot.get("lot_id") or ""), cents_of_float(float(-gain)),
                        ledger.bought_on if ledger is not None else None))
    return out


def _bought(proposal: Proposal) -> list[str]:
    """The symbols ``proposal`` buys, in its order."""
    return list(dict.fromkeys(t["symbol"] for t in (proposal.result or {}).get("trades") or ()
                              if t.get("side") == "buy" and _traded(t)))


def _wash_window_refuse(legs: list[Proposal], today: date) -> None:
    """Refuse releasing legs that would make a wash sale the run did not know of (IRC §1091(a):
    a loss sale and a purchase of the same or a substantially identical security within 30 days
    of each other, in any accounts of the household, an IRA's or a spouse's too), wash sales not
    allowed by the leg's parameters, both ways:

    - a leg sells lots at a loss in a taxable account while the household has bought the group in
      the 30 days before, or has an open order to (``household_purchases``);
    - a leg buys the group (in any account) while the household's taxable accounts sold it at a
      loss in the 30 days before, or have an open order to (``household_loss_sales``): a sale
      booked or released after the run, which the run would have kept out of the window.

    Where an IRA or Roth buys, the loss is lost for good (Rev. Rul. 2008-5). The legs stay
    approved (a household's go or stay together); from the day named the trade is harmless."""
    judged = [leg for leg in legs if not wash_sales_allowed(leg)]
    selling = [(leg, lots) for leg in judged if leg.account.taxable and (lots := _sold_at_a_loss(leg))]
    buying = [(leg, symbols) for leg in judged if (symbols := _bought(leg))]
    start = today - timedelta(days=WINDOW_DAYS)
    bought = household_purchases({leg.account.household_id for leg, _ in selling}, start=start, end=today) if selling else {}
    sold = household_loss_sales({leg.account.household_id for leg, _ in buying}, start=start, end=today) if buying else {}
    if not any(bought.values()) and not any(sold.values()):
        return
    symbols = ({lot[0] for _, lots in selling for lot in lots} | {s for _, symbols in buying for s in symbols}
               | {p.symbol for ps in bought.values() for p in ps} | {s.symbol for ss in sold.values() for s in ss})
    groups: dict[str, list[str]] = {}
    for group, symbol in Security.objects.filter(symbol__in=symbols).exclude(equivalence_group="").values_list(
            "equivalence_group", "symbol"):
        groups.setdefault(group, []).append(symbol)
    # The firm's groups (the ledger's) and any the proposals' parameters add (the engine's).
    eq = Equivalence([*groups.values(), *(group for leg in judged
                                           for group in ((leg.parameters or {}).get("wash_sale") or {})
                                           .get("equivalent_groups") or ())])
    for leg, lots in selling:
        for symbol, lot_id, loss, bought_on in lots:
            # The lot's own purchase (the account's buy of it that day) does not replace its shares,
            # sold or kept (Rev. Rul. 56-602), as the replay reads it.
            own = (leg.account.custodian_number, symbol, bought_on)
            washing = [p for p in bought.get(leg.account.household_id, ())
                       if eq.group(p.symbol) == eq.group(symbol) and (p.account_number, p.symbol, p.day) != own]
            if washing:
                lot = f"lot {lot_id} of {symbol}" if lot_id else symbol
                _wash_window_refusal(
                    leg, f"sells {lot} in {leg.account.custodian_number} at a loss of ${loss:,.2f}", washing,
                    _purchase_words, "a loss sale within 30 days of a purchase",
                    {"symbol": symbol, "lot_id": lot_id, "loss": str(loss),
                     "purchases": [{"account": p.account_number, "symbol": p.symbol,
                                    "day": p.day.isoformat() if p.day else None} for p in washing]})
    for leg, symbols in buying:
        for symbol in symbols:
            washed = [s for s in sold.get(leg.account.household_id, ()) if eq.group(s.symbol) == eq.group(symbol)]
            if washed:
                _wash_window_refusal(
                    leg, f"buys {symbol} in {leg.account.custodian_number}"
                         f"{_lost_for_good(leg.account.household_id, leg.account.custodian_number)}", washed,
                    _loss_sale_words, "a purchase within 30 days after a loss sale",
                    {"symbol": symbol, "sales": [{"account": s.account_number, "symbol": s.symbol,
                                                  "lot_id": s.lot_id, "day": s.day.isoformat() if s.day else None,
                                                  "loss": str(cents_of_float(float(s.loss)))} for s in washed]})


def _purchase_words(p: Purchase, household_id: int) -> str:
    what = (f"an open order buys {p.symbol} in {p.account_number}" if p.day is None else
            f"the household bought {p.symbol} in {p.account_number} on {p.day:%Y-%m-%d}")
    return what + _lost_for_good(household_id, p.account_number)


def _loss_sale_words(s: LossSale, household_id: int) -> str:
    sold = f"lot {s.lot_id} of {s.symbol}" if s.lot_id else s.symbol
    loss = f"at a loss of ${cents_of_float(float(s.loss)):,.2f}"
    return (f"an open order sells {sold} in {s.account_number} {loss}" if s.day is None else
            f"the household sold {sold} in {s.account_number} on {s.day:%Y-%m-%d} {loss}")


def _lost_for_good(household_id: int, account_number: str) -> str:
    """The words for a purchase in an IRA or Roth of the household, which washes a loss for good."""
    status = (Account.objects.filter(household_id=household_id, custodian_number=account_number, taxable=False)
              .values_list("tax_status", flat=True).first())
    if status is None:
        return ""
    return (f" (a {'Roth' if status == Account.TaxStatus.ROTH else 'traditional'} IRA: "
            "a loss it washes is lost for good, Rev. Rul. 2008-5)")


def _wash_window_refusal(leg: Proposal, does: str, others: list[Purchase] | list[LossSale],
                         words: Callable[[Purchase | LossSale, int], str], rule: str, detail: dict):
    """Refuse ``leg``, which ``does`` a trade that ``others`` (the household's purchases or loss sales
    of its group, each in ``words``) would make a wash sale of: named by the one that keeps it so
    longest (an open order's, until filled), with the day the trade is harmless."""
    ordered = [o for o in others if o.day is None]
    last = max((o.day for o in others if o.day is not None), default=None)
    named = ordered[0] if ordered else next(o for o in others if o.day == last)
    harmless = None if ordered else (buyable_on if isinstance(named, LossSale) else harvestable_on)(last)
    when = (f"It is harmless from {harmless:%Y-%m-%d}" if harmless else
            "It is harmless 31 days after that order is filled, or once it is cancelled")
    raise Conflict(
        f"Proposal #{leg.pk} {does}, and {words(named, leg.account.household_id)}: {rule} of the same or a "
        f"substantially identical security is a wash sale (IRC §1091(a)). {when}; or rebalance the account "
        "again, which keeps to the window.",
        code="wash_sale_window",
        detail={"proposal": leg.pk, "account": leg.account.custodian_number, **detail,
                "harmless_from": harmless.isoformat() if harmless else None})


def _release_one(proposal: Proposal, *, user, comment: str, today: date) -> Proposal:
    released = _move(proposal, S.RELEASED, actor=user, action="proposal.release", comment=comment)
    orders = orders_create(proposal=released, actor=user, today=today)
    webhook_events.orders_released(released.pk, by=_who(user, "proposal.release"))
    if not orders:  # nothing to fill (a withdrawal taking cash only): done, or it would wait for ever
        return _executed(released, actor=user, comment="released with no order to fill")
    return released


def proposals_release_bulk(*, proposal_ids: list[int], user, comment: str = "",
                           today: date | None = None) -> list[BulkOutcome]:
    """Release each approved proposal (each in its own transaction, through ``proposal_release``,
    so one that has expired or moved on does not hold the others back); say what happened to each."""
    if not user_can(user, Capability.RELEASE):
        raise PermissionDenied("Only a portfolio manager releases approved trades.")
    firm_active_check("No trade is released")  # once, not one query and one same refusal per proposal
    found = {p.pk: p for p in proposals_visible_to(user).filter(pk__in=proposal_ids).select_related("account")}
    outcomes = []
    with_household: dict[int, int] = {}  # legs released with an earlier leg of this list: by whose id
    for pk in proposal_ids:
        proposal = found.get(pk)
        if proposal is None:
            outcomes.append(BulkOutcome(pk, f"#{pk}", False, "not found, or not yours to see"))
            continue
        label = f"#{pk} {proposal.account.custodian_number}"
        if pk in with_household:
            outcomes.append(BulkOutcome(pk, label, True, f"released with its household's #{with_household[pk]}"))
            continue
        try:
            proposal_release(proposal=proposal, user=user, comment=comment, today=today)
        except DomainError as exc:
            outcomes.append(BulkOutcome(pk, label, False, exc.message))
            continue
        outcomes.append(BulkOutcome(pk, label, True, "released: its orders may go out"))
        if proposal.household_proposal_id:
            legs = released_with(proposal)
            with_household.update(dict.fromkeys(legs, pk))
            # Legs not ticked went out too (a household's go together): each is named, not left unsaid.
            unticked = Proposal.objects.filter(pk__in=set(legs) - set(proposal_ids)).order_by("pk")
            outcomes += [BulkOutcome(leg.pk, f"#{leg.pk} {number}", True, f"released with its household's #{pk}")
                         for leg, number in ((leg, leg.account.custodian_number)
                                             for leg in unticked.select_related("account"))]
    return outcomes


def open_legs_with(proposal: Proposal) -> list[int]:
    """The other legs of ``proposal``'s household proposal still open (pending or approved): those a
    rejection of ``proposal`` takes with it."""
    if not proposal.household_proposal_id:
        return []
    return list(Proposal.objects.filter(household_proposal_id=proposal.household_proposal_id, status__in=_LEG_OPEN)
                .exclude(pk=proposal.pk).order_by("pk").values_list("pk", flat=True))


def released_with(proposal: Proposal) -> list[int]:
    """The other legs of ``proposal``'s household proposal released or executed (by its release)."""
    return list(Proposal.objects.filter(household_proposal_id=proposal.household_proposal_id,
                                        status__in=(S.RELEASED, S.EXECUTED)).exclude(pk=proposal.pk)
                .order_by("pk").values_list("pk", flat=True))


@transaction.atomic
def proposal_mark_executed(*, proposal: Proposal, actor=None, comment: str = "") -> Proposal:
    """Released -> executed, once every order is filled or cancelled (the ledger calls this)."""
    return _executed(_locked(proposal), actor=actor, comment=comment)


def _executed(proposal: Proposal, *, actor, comment: str) -> Proposal:
    executed = _move(proposal, S.EXECUTED, actor=actor, action="proposal.execute", comment=comment)
    cash_flow_pay(executed, actor=actor)  # a withdrawal's money leaves once its sales are done
    drift_alert_resolve_executed(proposal=executed)  # the drift its trades answered is gone
    return executed


def proposals_expire_stale(*, today: date | None = None) -> int:
    """Expire open proposals whose prices are older than the policy allows (nightly)."""
    policy = ApprovalPolicy.current()
    cutoff = (today or timezone.localdate()) - timedelta(days=policy.max_price_age_days)
    stale = Proposal.objects.annotate(priced=Coalesce("priced_on", "run__as_of")).filter(status__in=OPEN,
                                                                                          priced__lt=cutoff)
    with transaction.atomic():
        households = set(stale.filter(status__in=OPEN_FOR_TAX).values_list("account__household_id", flat=True))
        expired = _bulk_move(stale, S.EXPIRED, action="proposal.expire", comment=f"prices older than {cutoff}")
        year_passed = _priced_for_a_past_year(today or timezone.localdate())
        passed_households = set(year_passed.filter(status__in=OPEN_FOR_TAX).values_list("account__household_id",
                                                                                       flat=True))
        expired += _bulk_move(year_passed, S.EXPIRED, action="proposal.expire",
                              comment="priced for a tax year that has ended: sold now, its sales go on the next year's")
        # what stays open was estimated beside what expired
        if households:
            open_estimates_restate(households, because=f"proposals priced before {cutoff} expired")
        if passed_households - households:
            open_estimates_restate(passed_households - households, because="proposals priced for the past tax year expired")
    return expired


def _priced_for_a_past_year(today: date):
    """Open proposals selling in a taxable account priced for an earlier tax year than ``today``'s
    (``tax_year_passed``), with the other open legs of their household proposals (solved as one)."""
    earlier = (Proposal.objects.filter(status__in=OPEN, account__taxable=True, run__as_of__year__lt=today.year)
               .select_related("run", "account"))
    passed = [p for p in earlier if tax_year_passed(p, today)]
    legs = {p.household_proposal_id for p in passed if p.household_proposal_id}
    return Proposal.objects.filter(Q(pk__in=[p.pk for p in passed]) | Q(household_proposal_id__in=legs),
                                   status__in=OPEN)


def proposals_supersede(*, account_ids: list[int], by_run_id: int, replace_approved: bool = False) -> int:
    """Open proposals of these accounts from earlier runs give way to the new run's. An approved
    proposal not yet released gives way only when the run was told to replace those (its starter
    saw how many on the run form); otherwise its approval stands. A withdrawal's or RMD's sales give
    way to nothing but a decision on them: they raise money the client asked for, and a later
    withdrawal is planned beside them (``services.cash_flows``)."""
    statuses = OPEN if replace_approved else [s for s in OPEN if s != S.APPROVED]
    # Earlier runs' only: a run started later that finished first keeps its proposals (runs._newer_runs_apart).
    older = (Proposal.objects.filter(any_of("account_id", account_ids), status__in=statuses, run_id__lt=by_run_id)
             .exclude(run__kind=RebalanceRun.Kind.CASH_FLOW))
    superseded = _bulk_move(older, S.SUPERSEDED, action="proposal.supersede", comment=f"superseded by run {by_run_id}")
    if superseded:  # their drift alerts lead to the new run's proposals (a run's own are refreshed as it writes them)
        drift_alerts_follow_superseded(account_ids=account_ids)
    return superseded


def proposals_supersede_lots_changed(*, account_ids, because: str) -> int:
    """Open proposals (approved ones too) of accounts whose lots a lots file or the custodian has
    just changed give way: they were solved on the lots as they were, and their sales name lots
    that may be gone (``proposals_supersede_changed``). Returns how many."""
    return proposals_supersede_changed(dict.fromkeys(account_ids, because))


def proposals_supersede_changed(reasons: dict[int, str]) -> int:
    """Open proposals (approved ones too) of the accounts in ``reasons`` (account id -> why: their
    lots, template or model changed) give way, each audited with its account's reason. A household
    proposal's legs go together (solved as one, as the restricted list takes them too:
    ``proposals_supersede_restricted``): its other accounts' open legs give way with it, each audited
    as "with its household's proposal" naming its first changed leg. A withdrawal's or RMD's sales
    wait for a decision, as in ``proposals_supersede`` (their release refuses lots no longer held:
    ``ledger.orders``); the household's open tax estimates are restated. Returns how many."""
    reasons = {account_id: why for account_id, why in reasons.items() if why}
    stale = (Proposal.objects.filter(any_of("account_id", list(reasons)), status__in=OPEN)
             .exclude(run__kind=RebalanceRun.Kind.CASH_FLOW))
    why_of = {pk: reasons[account_id] for pk, account_id in stale.values_list("pk", "account_id")}
    if not why_of:
        return 0
    named: dict[int, str] = {}  # household proposal -> its first changed leg, in words
    for household_proposal, number, account_id in (stale.filter(household_proposal__isnull=False).order_by("pk")
                                                   .values_list("household_proposal_id", "account__custodian_number",
                                                                "account_id")):
        named.setdefault(household_proposal, f"with its household's proposal: {number}: {reasons[account_id]}")
    for pk, household_proposal in (Proposal.objects.filter(any_of("household_proposal_id", list(named)),
                                                           status__in=OPEN)
                                   .exclude(any_of("pk", list(why_of)))
                                   .exclude(run__kind=RebalanceRun.Kind.CASH_FLOW)
                                   .values_list("pk", "household_proposal_id")):
        why_of[pk] = named[household_proposal]
    superseded = 0
    with transaction.atomic():
        households = set(Proposal.objects.filter(any_of("pk", list(why_of)), status__in=OPEN_FOR_TAX)
                         .values_list("account__household_id", flat=True))
        for why in sorted(set(why_of.values())):
            ids = [pk for pk, w in why_of.items() if w == why]
            superseded += _bulk_move(Proposal.objects.filter(any_of("pk", ids), status__in=OPEN), S.SUPERSEDED,
                                     action="proposal.supersede", comment=why)
        if households:  # what stays open (a withdrawal's sales) was estimated beside what gave way
            open_estimates_restate(households, because="; ".join(sorted(set(reasons.values()))))
    return superseded


def proposals_supersede_restricted(entry: RestrictedSecurity, *, because: str, actor=None) -> int:
    """Open proposals that trade ``entry``'s security against it (buy it; for do not trade, sell it
    too) give way, each audited with ``because``; a household proposal's other open legs go with it
    (solved as one). A withdrawal's or RMD's sales wait for a decision, as in ``proposals_supersede``:
    their approval and release refuse them while the entry binds. Returns how many."""
    symbol = entry.security.symbol
    entries = {symbol: entry}
    # The document is text: those naming the symbol at all are read, the rest never leave the server.
    named = (Proposal.objects.filter(status__in=OPEN).exclude(run__kind=RebalanceRun.Kind.CASH_FLOW)
             .annotate(document=Cast("result", TextField())).filter(document__contains=f'"{symbol}"')
             .only("pk", "result", "account_id", "household_proposal_id"))
    against = [p for p in named if restricted_trades(p, entries)]
    if not against:
        return 0
    reasons = {p.pk: because for p in against}
    households = {p.household_proposal_id: p for p in against if p.household_proposal_id}
    for pk, household_proposal in (Proposal.objects.filter(any_of("household_proposal_id", list(households)),
                                                           status__in=OPEN)
                                   .exclude(any_of("pk", list(reasons)))
                                   .values_list("pk", "household_proposal_id")):
        reasons[pk] = f"with its household's proposal #{households[household_proposal].pk}: {because}"
    superseded = 0
    with transaction.atomic():
        stale = Proposal.objects.filter(any_of("pk", list(reasons)), status__in=OPEN)
        taxed = set(stale.filter(status__in=OPEN_FOR_TAX).values_list("account__household_id", flat=True))
        for why in sorted(set(reasons.values())):
            ids = [pk for pk, w in reasons.items() if w == why]
            superseded += _bulk_move(Proposal.objects.filter(any_of("pk", ids), status__in=OPEN), S.SUPERSEDED,
                                     action="proposal.supersede", comment=why, actor=actor)
        if taxed:  # what stays open was estimated beside what gave way
            open_estimates_restate(taxed, because=because, actor=actor)
    return superseded


def _bulk_move(queryset, to: str, *, action: str, comment: str, actor="system") -> int:
    """``_move`` for many proposals at once: the same transition table, the same audit path."""
    with transaction.atomic():
        rows = list(queryset.select_for_update().values_list("pk", "status"))
        if not rows:
            return 0
        illegal = sorted({status for _, status in rows if to not in TRANSITIONS[status]})
        if illegal:
            raise IllegalTransition(f"Proposals that are {', '.join(illegal)} cannot become {to}.",
                                    detail={"from": illegal, "to": to})
        Proposal.objects.filter(any_of("pk", [pk for pk, _ in rows])).update(status=to, status_changed_at=timezone.now())
        _audit_bulk(rows, to, action=action, comment=comment, actor=actor or "system")
    return len(rows)


def _audit_bulk(rows: list[tuple[int, str]], to: str, *, action: str, comment: str, actor: str = "system") -> None:
    audit_many(actor=actor, action=action, comment=comment, changes=[
        ("proposal", str(pk), {"status": status}, {"status": to}) for pk, status in rows])


def proposals_submit_new(*, run_id: int, account_ids: list[int]) -> None:
    """Submit a chunk's new draft proposals in bulk under the firm's policy."""
    # Only the columns the policy reads: a direct-index proposal's result is hundreds of KB.
    drafts = list(
        Proposal.objects.filter(run_id=run_id, account_id__in=account_ids, status=S.DRAFT)
        .only("pk", "account_id", "status", "estimated_tax", "turnover", "trade_count", "restricted_traded")
    )
    if not drafts:
        return
    decided = _drafts_decide(drafts)
    for (to, compliance), ids in _groups(decided).items():  # at most three UPDATEs, not one CASE per row
        Proposal.objects.filter(pk__in=ids).update(status=to, requires_compliance=compliance,
                                                   status_changed_at=decided[0].status_changed_at)
    _submitted(decided)


def proposals_insert_submitted(proposals: list[Proposal]) -> None:
    """Write a run's new proposals (unsaved drafts) already submitted under the firm's policy: each
    goes in approved or pending approval, with the approvals, audit rows and webhook events that
    ``proposals_submit_new`` gives drafts written first, but every row written once (a chunk of
    100 model-portfolio accounts saved a re-read and an UPDATE of 100 rows)."""
    if not proposals:
        return
    # The proposals' ids come from the table's sequence first: approvals and audit rows name them.
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT nextval(pg_get_serial_sequence('{Proposal._meta.db_table}', 'id')) "
                       "FROM generate_series(1, %s)", [len(proposals)])
        for proposal, (pk,) in zip(proposals, cursor.fetchall(), strict=True):
            proposal.pk = pk
    for proposal in proposals:
        # The policy compares money as the table stores it (to the cent), as when it read drafts back.
        proposal.estimated_tax = cents_of_float(proposal.estimated_tax)
    decided = _drafts_decide(proposals)
    objects_insert_by_copy(proposals)
    _submitted(decided)


def _drafts_decide(drafts: list[Proposal]) -> list[Proposal]:
    """Set each draft's status (approved or pending approval) and compliance under the firm's policy."""
    policy = ApprovalPolicy.current()
    discretionary = dict(Account.objects.filter(any_of("pk", [p.account_id for p in drafts]))
                         .values_list("pk", "discretionary"))
    now = timezone.now()
    for p in drafts:
        assert p.status == S.DRAFT, "only a draft is submitted"
        decision = policy_decide(policy, p, discretionary=discretionary.get(p.account_id, False))
        p.status = S.APPROVED if decision.auto_approve else S.PENDING
        p.requires_compliance = decision.requires_compliance
        p.status_changed_at = now
        p.policy_reasons = "; ".join(decision.reasons)  # the audit row's comment (``_submitted``)
    return drafts


def _groups(decided: list[Proposal]) -> dict[tuple[str, bool], list[int]]:
    groups: dict[tuple[str, bool], list[int]] = {}
    for p in decided:
        groups.setdefault((p.status, p.requires_compliance), []).append(p.pk)
    return groups


def _submitted(decided: list[Proposal]) -> None:
    """What submitting drafts records: the policy's approvals, the audit rows, the webhook events."""
    assert all(p.status in TRANSITIONS[S.DRAFT] for p in decided), "a draft moves to approved or pending only"
    approved = [(p.pk, S.DRAFT) for p in decided if p.status == S.APPROVED]
    ProposalApproval.objects.bulk_create([
        ProposalApproval(proposal_id=pk, capacity=ProposalApproval.Capacity.POLICY,
                         decision=ProposalApproval.Decision.APPROVE, comment="within the firm's auto-approval limits")
        for pk, _ in approved
    ])
    _audit_bulk(approved, S.APPROVED, action="proposal.auto_approve", comment="within the firm's auto-approval limits")
    # Why each waits, in its audit row, as a single submission records it (``proposal_submit``): the
    # policy's thresholds may change before compliance reads it.
    pending = [p for p in decided if p.status == S.PENDING]
    audit_many(actor="system", action="proposal.submit", changes=[
        ("proposal", str(p.pk), {"status": S.DRAFT}, {"status": S.PENDING}) for p in pending],
        comments=[getattr(p, "policy_reasons", "") for p in pending])
    webhook_events.proposals_decided(EventType.PROPOSAL_APPROVED, [pk for pk, _ in approved], by="policy",
                                     comment="within the firm's auto-approval limits")
    webhook_events.proposals_decided(EventType.PROPOSAL_PENDING, [p.pk for p in pending])
