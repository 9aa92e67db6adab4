"""A household's open proposals keep their tax estimates right as the set of them changes.

Accounts of a household share tax returns (docs/ledger.md "One return, or one per spouse"). A
proposal's estimated tax is what it adds to its returns after the year so far and after what the
household's proposals open before it would realise: a run solves a household's accounts one after
the other (``engine.returns_after``), and an account solved on its own nets after every other open
proposal (``services.revisions.realised_planned_beside``). So the open proposals - pending approval
or approved, not yet released - are taken in the order they were made, and each one's estimate is
its marginal tax on its returns after those before it (``engine.tax.runs_tax``).

When a proposal leaves that set other than by release (rejected, expired, superseded), the
proposals after it were estimated against sales that will not happen: their estimates are restated
here from the set as it now is. Only the figures move; the trades stay as they were proposed. A
restatement is kept on the proposal (when, from what, to what, why), audited, and a proposal
pending approval whose restated tax reaches the firm's compliance threshold now needs compliance's
approval too. (A released proposal is left out of the set, as its fills are counted as they are
booked: releasing one restates nothing.)
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.db import transaction
from django.utils import timezone

from rebalancing.engine.tax import realised_on_returns, runs_tax
from rebalancing.engine_inputs import tax_returns_of
from rebalancing.models import ApprovalPolicy, Household, Proposal
from tenants.audit.actions import Action
from tenants.audit.services import audit_many

__all__ = ["OPEN_FOR_TAX", "open_estimates_restate", "realised_open_beside"]

OPEN_FOR_TAX = (Proposal.Status.PENDING, Proposal.Status.APPROVED)
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


def realised_open_beside(household_ids, exclude_account_ids, year: int) -> dict[int, dict[str, tuple[float, float]]]:
    """Household id -> what its open proposals, but those of ``exclude_account_ids``, would realise
    net on each of its tax returns (``engine.realised_add``): what a solve of the excluded accounts
    nets its estimate after (a run's, an edit's, an instruction's, a preview's). Two queries, and
    none when there are no such proposals."""
    household_ids = sorted({h for h in household_ids if h})
    if not household_ids:
        return {}
    rows = list(Proposal.objects.filter(account__household_id__in=household_ids, account__taxable=True,
                                        status__in=OPEN_FOR_TAX).exclude(account_id__in=list(exclude_account_ids))
                .order_by("pk").values_list("account__household_id", "account_id", "result"))
    if not rows:
        return {}
    returns = tax_returns_of(list(Household.objects.filter(pk__in={h for h, _, _ in rows})), year)
    out: dict[int, dict[str, tuple[float, float]]] = defaultdict(dict)
    for household_id, account_id, result in rows:
        summary = (result or {}).get("summary") or {}
        if not returns.get(account_id) or not summary:
            continue
        payer = _Taxpayer(str(account_id), True, returns[account_id], 0.0, 0.0)
        run_short, run_long = _net(summary, "short"), _net(summary, "long")
        for rid, (short, long) in realised_on_returns(payer, run_short, run_long).items():
            before = out[household_id].get(rid, (0.0, 0.0))
            out[household_id][rid] = (before[0] + short, before[1] + long)
    return dict(out)


@transaction.atomic
def open_estimates_restate(household_ids, *, because: str, actor=None) -> int:
    """Restate the estimated tax of the open proposals of these households from the open set as it
    is now; returns how many changed. Call in the transaction that changed the set."""
    households = list(Household.objects.filter(pk__in=set(household_ids)))
    if not households:
        return 0
    proposals = list(Proposal.objects.select_for_update(of=("self",))
                     .filter(account__household__in=households, account__taxable=True, status__in=OPEN_FOR_TAX)
                     .select_related("account").order_by("pk"))
    if not proposals:
        return 0
    returns = tax_returns_of(households, timezone.localdate().year)
    by_household: dict[int, list[Proposal]] = defaultdict(list)
    for p in proposals:
        by_household[p.account.household_id].append(p)
    policy = ApprovalPolicy.current()
    now, changes = timezone.now(), []
    for members in by_household.values():
        runs = []
        for p in members:
            summary = (p.result or {}).get("summary") or {}
            payer = _Taxpayer(str(p.pk), True, returns.get(p.account_id, ()), float(p.account.short_term_rate),
                              float(p.account.long_term_rate))
            if payer.tax_returns:
                runs.append((payer, _net(summary, "short"), _net(summary, "long")))
        taxes = runs_tax(runs)
        for p in members:
            if str(p.pk) not in taxes:
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
    audit_many(actor=actor, action=Action.PROPOSAL_TAX_RESTATED, changes=changes, comment=because)
    return len(changes)
