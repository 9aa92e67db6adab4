"""A household's open proposals keep their tax estimates right as the set of them changes.

Accounts of a household share tax returns (docs/ledger.md "One return, or one per spouse"). A
proposal's estimated tax is what it adds to its returns after the year so far and after what the
household's proposals open before it would realise: a run solves a household's accounts one after
the other (``engine.returns_after``), and an account solved on its own nets after every other open
proposal (``services.revisions.realised_planned_beside``). So the open proposals - pending approval
or approved, not yet released - are taken in the order they were made, and each one's estimate is
its marginal tax on its returns after those before it (``engine.tax.runs_tax``).

A released proposal stays in the set for the sales still open at the custodian: what its filled
orders realised is in the year so far (the ledger books it), what its open sale orders have yet to
fill is planned, at the prices and terms the engine gave those lots (``released_unfilled``). So
releasing restates nothing; a fill moves a sale from planned to booked, at its own price.

When a proposal leaves that set other than by release (rejected, expired, superseded), or a
released order is cancelled or filled at another price than planned, the proposals after it were
estimated against sales that will not happen as planned: their estimates are restated here from
the set as it now is (a released proposal's own is history and is not restated). Only the figures
move; the trades stay as they were proposed. A restatement is kept on the proposal (when, from
what, to what, why), audited, and a proposal pending approval whose restated tax reaches the
firm's compliance threshold now needs compliance's approval too; one approved and not yet
released whose approvals no longer suffice for the restated figure goes back to pending approval
(``_approvals_lapse``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.db import transaction
from django.utils import timezone

from rebalancing.engine.tax import realised_on_returns, runs_tax
from rebalancing.engine_inputs import tax_returns_of
from rebalancing.models import ApprovalPolicy, Household, Order, Proposal, ProposalApproval
from tenants.audit.actions import Action
from tenants.audit.services import audit_many

__all__ = ["OPEN_FOR_TAX", "open_estimates_restate", "realised_open_beside", "released_unfilled"]

OPEN_FOR_TAX = (Proposal.Status.PENDING, Proposal.Status.APPROVED)
# With the sales of released proposals still open at the custodian.
_PLANNED = (*OPEN_FOR_TAX, Proposal.Status.RELEASED)
_OPEN_ORDERS = (Order.Status.OPEN, Order.Status.PARTIALLY_FILLED)
_CENT = Decimal("0.01")


@dataclass(frozen=True)
class _Taxpayer:
    """What ``engine.run_tax`` reads of an account: its returns and rates."""

    id: str
    taxable: bool
    tax_returns: tuple
    short_term_rate: float
    long_term_rate: float


def _net(summary: dict, term: str) -> float:
    return float(summary.get(f"realised_{term}_term_gain") or 0) - float(summary.get(f"realised_{term}_term_loss") or 0)


def released_unfilled(proposals) -> dict[int, tuple[float, float]]:
    """Proposal id -> the net short- and long-term result its sale orders still open at the
    custodian would realise: each order's open shares are those after its fills in the order's lot
    list (fills relieve the named lots in that order, ``ledger.orders.lots_text``; a cancel takes
    the last), each priced at its lot's planned gain per share. One query."""
    results = {p.pk: p.result or {} for p in proposals}
    out: dict[int, list[float]] = {pk: [0.0, 0.0] for pk in results}
    orders = (Order.objects.filter(proposal_id__in=list(results), side="sell", status__in=_OPEN_ORDERS)
              .values_list("proposal_id", "order_id", "filled_quantity", "cancelled_quantity", "quantity", "lots"))
    for proposal_id, order_id, filled, cancelled, quantity, lots in orders:
        trade = (results[proposal_id].get("trades") or [])[int(order_id.rsplit("-", 1)[1]) - 1]
        planned = {lot["lot_id"]: lot for lot in trade.get("lots") or ()}
        skip, left = filled, quantity - filled - cancelled
        for named in lots:
            shares = Decimal(named["quantity"])
            taken = min(shares, skip)
            skip -= taken
            open_ = min(shares - taken, left)
            left -= open_
            if open_ <= 0:
                continue
            lot = planned[named["lot_id"]]
            per_share = (lot["gain"] + (lot.get("disallowed_loss") or 0.0)) / lot["quantity"]
            out[proposal_id][lot["term"] == "long"] += float(open_) * per_share
    return {pk: (short, long) for pk, (short, long) in out.items()}


def _planned_net(proposals) -> dict[int, tuple[float, float]]:
    """Proposal id -> its net short- and long-term result still to come: an open proposal's whole
    plan, a released one's unfilled sales (``released_unfilled``)."""
    out = released_unfilled([p for p in proposals if p.status == Proposal.Status.RELEASED])
    for p in proposals:
        if p.status != Proposal.Status.RELEASED:
            summary = (p.result or {}).get("summary") or {}
            out[p.pk] = (_net(summary, "short"), _net(summary, "long"))
    return out


def realised_open_beside(household_ids, exclude_account_ids, year: int) -> dict[int, dict[str, tuple[float, float]]]:
    """Household id -> what its open proposals, but those of ``exclude_account_ids``, would realise
    net on each of its tax returns (``engine.realised_add``), released ones' open sales included:
    what a solve of the excluded accounts nets its estimate after (a run's, an edit's, an
    instruction's, a preview's). At most three queries, and none when there are no such proposals."""
    household_ids = sorted({h for h in household_ids if h})
    if not household_ids:
        return {}
    proposals = list(Proposal.objects.filter(account__household_id__in=household_ids, account__taxable=True,
                                             status__in=_PLANNED).exclude(account_id__in=list(exclude_account_ids))
                     .select_related("account").order_by("pk"))
    if not proposals:
        return {}
    returns = tax_returns_of(list(Household.objects.filter(pk__in={p.account.household_id for p in proposals})), year)
    planned = _planned_net(proposals)
    out: dict[int, dict[str, tuple[float, float]]] = defaultdict(dict)
    for p in proposals:
        household_id, account_id = p.account.household_id, p.account_id
        run_short, run_long = planned[p.pk]
        if not returns.get(account_id) or not (run_short or run_long):
            continue
        payer = _Taxpayer(str(account_id), True, returns[account_id], 0.0, 0.0)
        for rid, (short, long) in realised_on_returns(payer, run_short, run_long).items():
            before = out[household_id].get(rid, (0.0, 0.0))
            out[household_id][rid] = (before[0] + short, before[1] + long)
    return dict(out)


@transaction.atomic
def open_estimates_restate(household_ids, *, because: str, actor=None) -> dict[int, tuple[Decimal, Decimal]]:
    """Restate the estimated tax of the open proposals of these households from the open set as it
    is now; returns those that changed, by id: (before, after). Call in the transaction that
    changed the set."""
    households = list(Household.objects.filter(pk__in=set(household_ids)))
    if not households:
        return {}
    proposals = list(Proposal.objects.select_for_update(of=("self",))
                     .filter(account__household__in=households, account__taxable=True, status__in=OPEN_FOR_TAX)
                     .select_related("account").order_by("pk"))
    if not proposals:
        return {}
    released = list(Proposal.objects.filter(account__household__in=households, account__taxable=True,
                                            status=Proposal.Status.RELEASED, orders__side="sell",
                                            orders__status__in=_OPEN_ORDERS)
                    .select_related("account").distinct().order_by("pk"))
    returns = tax_returns_of(households, timezone.localdate().year)
    planned = _planned_net(proposals + released)
    by_household: dict[int, list[Proposal]] = defaultdict(list)
    for p in sorted(proposals + released, key=lambda p: p.pk):
        by_household[p.account.household_id].append(p)
    policy = ApprovalPolicy.current()
    now, changes, lapsed = timezone.now(), [], []
    for members in by_household.values():
        runs = []
        for p in members:
            payer = _Taxpayer(str(p.pk), True, returns.get(p.account_id, ()), float(p.account.short_term_rate),
                              float(p.account.long_term_rate))
            if payer.tax_returns:
                runs.append((payer, *planned[p.pk]))
        taxes = runs_tax(runs)
        for p in members:
            if str(p.pk) not in taxes or p.status == Proposal.Status.RELEASED:
                continue
            after = Decimal(str(taxes[str(p.pk)])).quantize(_CENT, ROUND_HALF_UP)
            before = Decimal(p.estimated_tax).quantize(_CENT, ROUND_HALF_UP)
            if after == before:
                continue
            result = dict(p.result or {})
            result["summary"] = {**(result.get("summary") or {}), "estimated_tax": float(after)}
            result["tax_restated"] = [*(result.get("tax_restated") or ()), {
                "at": now.isoformat(), "before": str(before), "after": str(after), "because": because}]
            p.result, p.estimated_tax = result, after
            fields = ["result", "estimated_tax"]
            if (p.status == Proposal.Status.PENDING and not p.requires_compliance
                    and after >= policy.compliance_min_estimated_tax):
                p.requires_compliance = True  # the firm's policy, on the figure as it now is
                fields.append("requires_compliance")
            p.save(update_fields=fields)
            changes.append(("proposal", str(p.pk), {"estimated_tax": str(before)},
                            {"estimated_tax": str(after), "requires_compliance": p.requires_compliance}))
            if p.status == Proposal.Status.APPROVED:
                lapsed.append((p, before, after))
    audit_many(actor=actor, action=Action.PROPOSAL_TAX_RESTATED, changes=changes, comment=because)
    _approvals_lapse(lapsed, policy, actor=actor)
    return {int(pk): (Decimal(b["estimated_tax"]), Decimal(a["estimated_tax"])) for _, pk, b, a in changes}


def _approvals_lapse(restated, policy, *, actor) -> None:
    """An approved proposal not yet released whose restated tax needs approvals it does not have
    goes back to pending approval: compliance's, once the figure reaches the firm's compliance
    threshold; a person's, once an approval the policy gave alone is past its auto-approval limit.
    The approvals it has stay (ProposalApproval); the missing ones are asked for as on submission."""
    if not restated:
        return
    from rebalancing.services.proposals import _move  # the workflow's one door; it imports this module

    have: dict[int, set[str]] = defaultdict(set)
    for pk, capacity in ProposalApproval.objects.filter(
            proposal_id__in=[p.pk for p, _, _ in restated],
            decision=ProposalApproval.Decision.APPROVE).values_list("proposal_id", "capacity"):
        have[pk].add(capacity)
    for p, before, after in restated:
        compliance = p.requires_compliance or after >= policy.compliance_min_estimated_tax
        given = have[p.pk]
        if ProposalApproval.Capacity.POLICY in given and not compliance and after <= policy.auto_max_estimated_tax:
            continue
        if ProposalApproval.Capacity.ADVISOR in given and (not compliance or ProposalApproval.Capacity.COMPLIANCE in given):
            continue
        p.requires_compliance = compliance
        why = (f"estimated tax restated from {before:,.2f} to {after:,.2f}: "
               + ("compliance must approve it" if compliance and ProposalApproval.Capacity.COMPLIANCE not in given
                  else f"above the {policy.auto_max_estimated_tax:,.2f} the policy approves alone"))
        _move(p, Proposal.Status.PENDING, actor=actor, action=Action.PROPOSAL_APPROVAL_LAPSED, comment=why)
