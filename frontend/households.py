"""What the household pages show: where each asset class sits across the household's accounts (at
the latest prices), its targets, and its latest household proposal with the state of its accounts'."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.db.models import Count

from frontend.templatetags.formatting import humanize_code
from rebalancing.access import (
    own_choice_approval_refusal,
    proposals_decidable_by,
    proposals_visible_to,
    with_advisors,
)
from rebalancing.engine import CASH_KEY
from rebalancing.models import (
    Account,
    CashFlow,
    Household,
    HouseholdProposal,
    Price,
    Proposal,
    Security,
    TaxLot,
)
from rebalancing.selectors import ModelBook
from rebalancing.services.household_revisions import household_proposal_revisable_by
from rebalancing.services.proposals import OPEN

__all__ = ["WAITING", "HouseholdView", "household_cash_flows", "household_list_rows", "household_proposal_status",
           "household_view"]

CASH = "Cash"

# An account's proposal still on its way: waiting for approval, for its release, or for its orders' fills.
WAITING = (Proposal.Status.PENDING, Proposal.Status.APPROVED, Proposal.Status.RELEASED)


def household_list_rows(households):
    """Households with their advisors and number of accounts, for the list page."""
    return with_advisors(households.select_related("model", "template").annotate(n_accounts=Count("accounts")))


def household_proposal_status(proposals) -> str:
    """A household proposal's state, in words, from its accounts' proposals."""
    statuses = {p.status for p in proposals}
    if not statuses:
        return "empty"
    state = HouseholdProposal.state_of(statuses)
    if state is not None:
        return Proposal.Status(state).label
    return "partly " + ", ".join(sorted(Proposal.Status(s).label.lower() for s in statuses))


@dataclass
class HouseholdView:
    accounts: list[Account]
    values: dict[int, float]  # account id -> value (securities and cash)
    total: float
    classes: list[str]  # asset classes, the model's first, cash last
    allocation: dict[str, dict[int, float]]  # asset class -> account id -> value now
    targets: dict[str, float]  # asset class -> the model's weight (a household managed as one)
    rows: list[dict] = field(default_factory=list)  # per class: value, weight, target, per-account share
    chart: dict = field(default_factory=dict)
    proposal: HouseholdProposal | None = None
    proposal_members: list[Proposal] = field(default_factory=list)
    proposal_status: str = ""
    proposal_gone: bool = False  # rejected, superseded or expired: its trades will not be made
    after_rows: list[dict] = field(default_factory=list)  # where each class sits after the proposal
    decidable: bool = False
    editable: bool = False
    unpriced: list[str] = field(default_factory=list)  # held securities without a price: not valued
    # Earlier household proposals still waiting for a decision (a withdrawal planned before the latest):
    # (household proposal, its state in words, whether the user may decide it).
    also_waiting: list[tuple[HouseholdProposal, str, bool]] = field(default_factory=list)
    # The accounts' own proposals on their way (``WAITING``), those of a household managed account by
    # account above all, which no household proposal above shows; their estimated tax together.
    waiting: list[Proposal] = field(default_factory=list)
    waiting_tax: Decimal = Decimal(0)


def household_view(household, *, user, as_of: date) -> HouseholdView:
    """The household page's figures, in a fixed number of queries."""
    accounts = list(household.accounts.order_by("custodian_number"))
    ids = [a.pk for a in accounts]
    lots = list(TaxLot.objects.filter(account_id__in=ids).values_list("account_id", "security_id",
                                                                      "security__asset_class", "quantity"))
    prices = dict(Price.objects.latest_on(as_of).filter(security_id__in={s for _, s, _, _ in lots})
                  .values_list("security_id", "close"))
    allocation: dict[str, dict[int, float]] = defaultdict(lambda: defaultdict(float))
    unpriced = set()
    for account_id, security_id, asset_class, quantity in lots:
        if security_id not in prices:  # named on the page, not valued at 0 in silence
            unpriced.add(security_id)
            continue
        allocation[asset_class][account_id] += float(quantity) * float(prices[security_id])
    for a in accounts:
        if a.cash:
            allocation[CASH][a.pk] += float(a.cash)
    values = {a.pk: sum(allocation[c].get(a.pk, 0.0) for c in allocation) for a in accounts}
    total = sum(values.values())
    targets: dict[str, float] = {}
    if household.is_unit and household.model_id:
        for sleeve, weight, _ in ModelBook({household.model_id}, as_of).flat_sleeves(household.model_id):
            targets[sleeve.asset_class] = targets.get(sleeve.asset_class, 0.0) + weight
    classes = list(targets) + sorted(c for c in allocation if c not in targets and c != CASH)
    if CASH in allocation or not classes:
        classes.append(CASH)
    view = HouseholdView(accounts, values, total, classes, allocation, targets)
    view.unpriced = sorted(Security.objects.filter(pk__in=unpriced).values_list("symbol", flat=True))
    view.rows = [_row(c, allocation.get(c, {}), accounts, total, targets.get(c)) for c in classes]
    view.chart = {
        "kind": "bar", "stacked": True, "unit": "%", "labels": [humanize_code(c) for c in classes],
        "series": [{"label": f"{a.custodian_number} ({a.get_tax_status_display()})",
                    "data": [round(100 * allocation.get(c, {}).get(a.pk, 0.0) / total, 2) if total else 0 for c in classes]}
                   for a in accounts],
    }
    proposal = (HouseholdProposal.objects.filter(household=household).select_related("run", "model_version__model", "revised_by")
                .order_by("-created_at").first())
    if proposal is not None:
        view.proposal = proposal
        view.proposal_members = list(proposal.proposals.select_related("account").order_by("account__custodian_number"))
        view.proposal_status = household_proposal_status(view.proposal_members)
        view.proposal_gone = all(p.status in (Proposal.Status.REJECTED, Proposal.Status.SUPERSEDED,
                                              Proposal.Status.EXPIRED) for p in view.proposal_members)
        decidable = list(proposals_decidable_by(user).filter(household_proposal=proposal).select_related("account__household"))
        view.decidable = bool(decidable)
        # Theirs to reject, not to approve: a leg whose trades they chose in a household without an advisor.
        view.approve_refused = next((r.message for p in decidable if (r := own_choice_approval_refusal(user, p))), "")
        # Edited as one while none of its accounts' proposals has moved on (released, rejected, ...).
        view.editable = household_proposal_revisable_by(user, proposal) \
            and all(p.status in OPEN for p in view.proposal_members) \
            and not proposal.result.get("cash_flow")  # a withdrawal's plan is not re-solved
        after = proposal.result.get("allocation_after") or {}
        numbers = {a.custodian_number: a for a in accounts}
        after_total = sum(v for row in after.values() for v in row.values()) or 1.0
        view.also_waiting = _also_waiting(household, proposal, user)
        view.after_rows = [
            {"asset_class": CASH if c == CASH_KEY else c, "value": sum(row.values()), "weight": sum(row.values()) / after_total,
             "where": [(numbers.get(n, n), v, v / sum(row.values()) if sum(row.values()) else 0)
                       for n, v in sorted(row.items(), key=lambda kv: -kv[1]) if v > 0.5]}
            for c, row in after.items()
        ]
    shown = [view.proposal.pk] if view.proposal is not None else []
    view.waiting = _waiting(ids, user, shown_with=shown + [hp.pk for hp, _, _ in view.also_waiting])
    view.waiting_tax = sum((p.estimated_tax for p in view.waiting), Decimal(0))
    return view


def _waiting(account_ids: list[int], user, *, shown_with: list[int]) -> list[Proposal]:
    """The accounts' proposals on their way (``WAITING``), by account, oldest first; those of the
    household proposals the page shows already (``shown_with``) are left to them."""
    return list(with_advisors(proposals_visible_to(user), "account__household__")
                .filter(account_id__in=account_ids, status__in=WAITING).exclude(household_proposal_id__in=shown_with)
                .select_related("account__household").order_by("account__custodian_number", "created_at", "pk"))


def _row(asset_class: str, by_account: dict[int, float], accounts, total: float, target: float | None) -> dict:
    value = sum(by_account.values())
    return {
        "asset_class": asset_class, "value": value, "weight": value / total if total else 0.0, "target": target,
        "where": [(a, by_account.get(a.pk, 0.0), by_account.get(a.pk, 0.0) / value if value else 0.0)
                  for a in accounts if by_account.get(a.pk, 0.0) > 0.5],
    }


def _also_waiting(household: Household, latest: HouseholdProposal, user) -> list[tuple[HouseholdProposal, str, bool]]:
    earlier = list(HouseholdProposal.objects.filter(household=household, proposals__status=Proposal.Status.PENDING)
                   .exclude(pk=latest.pk).distinct().select_related("run").order_by("-created_at")[:10])
    members: dict[int, list[Proposal]] = defaultdict(list)
    for p in Proposal.objects.filter(household_proposal__in=earlier):
        members[p.household_proposal_id].append(p)
    decidable = set(proposals_decidable_by(user).filter(household_proposal__in=earlier)
                    .values_list("household_proposal_id", flat=True))
    return [(hp, household_proposal_status(members[hp.pk]), hp.pk in decidable) for hp in earlier]


def household_cash_flows(household: Household) -> list[CashFlow]:
    """The latest cash flows, each withdrawal's with where its sales stand (``state``): pending, approved,
    executed - or rejected, so the advisor sees the money was not raised."""
    flows = list(CashFlow.objects.filter(household=household).select_related("account", "run")[:20])
    labels = dict(Proposal.Status.choices)
    states: dict[int, set[str]] = {}
    for run_id, status in Proposal.objects.filter(run_id__in=[f.run_id for f in flows if f.kind != f.Kind.DEPOSIT]
                                                  ).values_list("run_id", "status"):
        states.setdefault(run_id, set()).add(status)
    for f in flows:
        f.state = ("taken at the custodian (recorded)" if f.taken_outside else
                   ", ".join(labels[s] for s in sorted(states.get(f.run_id, ()))) if f.kind != f.Kind.DEPOSIT else "")
        f.payout = _payout_words(f)
    return flows


def _payout_words(flow: CashFlow) -> str:
    """What has left the household so far, and any shortfall against the plan of the accounts paid."""
    if not flow.paid:
        return ""
    paid = sum(Decimal(v) for v in flow.paid.values())
    planned = sum(Decimal(str(flow.plan.get("distributions", {}).get(n, 0))) for n in flow.paid)
    short = planned.quantize(Decimal("0.01")) - paid
    words = f"${paid:,.2f} paid out of {', '.join(sorted(flow.paid))}"
    return words + (f"; ${short:,.2f} short of the plan (its sales raised less)" if short > 0 else "")
