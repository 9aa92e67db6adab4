"""Compliance's exceptions of a period: every case the firm's approval policy and the tax rules single
out, in one list, newest first, with who did what and how it was decided (the Exceptions page and
its CSV, ``frontend.views.exceptions``).

The kinds (``KINDS``):

- ``compliance``: a proposal the approval policy sent to compliance (``Proposal.requires_compliance``,
  ``services.proposals.policy_decide``), with the policy's reasons as recorded when it was sent
  (the comment of its ``proposal.submit`` or ``proposal.approval_lapsed`` audit record) and each
  decision on it;
- ``restricted``: a proposal trading a security of the firm's restricted list in force on its run's
  day (``Proposal.restricted_traded``, set by ``runs._trades_restricted``: a client's own restriction
  is not one), naming the securities (``proposals.restricted_trades``);
- ``wash_allowed``: a proposal whose parameters allow wash sales (``wash_sale.allow``,
  ``tax_estimates.wash_sales_allowed``) and which makes one (IRC §1091(a)): the engine's (or, once
  restated, the ledger's) ``wash_sale_disallowed`` alerts in its result, its own sales' loss lost
  and any earlier loss sale its purchases wash;
- ``wash_executed``: a sale executed with a loss disallowed by a wash sale where a proposal allowing
  wash sales made the sale or the purchase that washed it (the ledger's ``RealisedLot`` and
  ``BasisAdjustment``);
- ``tax_limit``, ``wash_alert``, ``rmd_missed``: alerts of those kinds (``Alert.Kind.TAX_LIMIT``,
  ``WASH_SALE``, and ``RMD`` when it says an RMD was missed - IRC §4974's excise tax), raised or
  resolved in the period;
- ``budget_aside``: a proposal solved on an instruction that sets the tax budget aside this once
  (``bring_to_model``, and ``liquidate``, which sells everything whatever it realises:
  ``engine.limits``) in a taxable account.

The rows are found with one query per kind (their keys and times only), sorted and cut to a page,
and only the page's rows are then read whole, in a fixed number of queries (``exceptions_page``).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db.models import JSONField, Min, Q, Sum
from django.db.models.fields.json import KeyTransform
from django.db.models.functions import Cast
from django.utils import timezone

from rebalancing.access import (
    accounts_visible_to,
    alerts_visible_to,
    households_advised_by,
    households_without_advisor,
    proposals_visible_to,
    with_advisors,
)
from rebalancing.models import (
    Alert,
    ApprovalPolicy,
    BasisAdjustment,
    Proposal,
    ProposalApproval,
    RealisedLot,
    RestrictedSecurity,
)
from rebalancing.services.proposals import policy_decide, restricted_trades
from rebalancing.services.runs import alert_text
from tenants.audit.actions import Action
from tenants.audit.models import AuditEvent

__all__ = ["KINDS", "ExceptionFilters", "ExceptionRow", "ExceptionKey", "exception_keys", "exception_rows",
           "period_default"]

KINDS = {
    "compliance": "Compliance's approval needed",
    "restricted": "Restricted security traded",
    "wash_allowed": "Wash sale allowed by a setting",
    "wash_executed": "Executed sale, loss washed (allowed)",
    "tax_limit": "Tax above its limit",
    "wash_alert": "Wash-sale alert",
    "rmd_missed": "RMD missed",
    "budget_aside": "Tax budget set aside",
}
_PROPOSAL_KINDS = ("compliance", "restricted", "wash_allowed", "budget_aside")
_ALERT_KINDS = {"tax_limit": Alert.Kind.TAX_LIMIT, "wash_alert": Alert.Kind.WASH_SALE, "rmd_missed": Alert.Kind.RMD}
# An RMD alert says each owed year; a missed one as "<year> RMD missed:" (runs._rmd_alert_text).
_RMD_MISSED = r"\d{4} RMD missed"
# What each missed year leaves to make up, in the alert's words: the row's amount (the alert's own amount
# also counts the years that are owed but not missed).
_MISSED_LEFT = re.compile(r"\d{4} RMD missed: \$[\d,]+\.\d\d was not taken by [^;]*; \$([\d,]+\.\d\d) is left to make up")
# The instructions that set the tax budget aside this once (engine.limits: "unless an instruction
# overrides it"; engine.parameters.Instruction: bring_to_model ignores the budget, liquidate sells all).
_BUDGET_ASIDE = ("bring_to_model", "liquidate")
_INSTRUCTION_WORDS = {"bring_to_model": "bring back to the model", "liquidate": "sell everything"}
# The decisions still open on a proposal, by status.
_OPEN = (Proposal.Status.DRAFT, Proposal.Status.PENDING)


def period_default(today: date) -> tuple[date, date]:
    """This month so far."""
    return today.replace(day=1), today


@dataclass(frozen=True)
class ExceptionFilters:
    """What the page asks for, already read (``frontend.views.exceptions`` checks each value)."""

    start: date
    end: date
    kinds: tuple[str, ...] = ()  # none: every kind
    household: str = ""  # a household's name (part of it) or its ID
    advisor: int | str | None = None  # an advisor's id, or "none" (households without one)
    state: str = ""  # "pending" (still open), "decided" (closed), "" both

    def wants(self, kind: str) -> bool:
        return not self.kinds or kind in self.kinds


@dataclass(frozen=True, order=True)
class ExceptionKey:
    """One row before it is read whole: its time (sorted on), kind and object's id."""

    at: datetime
    kind: str
    pk: int


@dataclass
class ExceptionRow:
    kind: str
    at: datetime
    pending: bool
    state: str  # in words: "pending compliance's approval", "approved", "resolved"...
    account_id: int
    account_number: str
    household_name: str
    advisors: str
    what: str  # the facts
    who: str  # who did what
    decisions: list[str] = field(default_factory=list)  # how it was decided, one line per decision
    amount: Decimal | None = None
    proposal_id: int | None = None
    link: str = "proposal"  # what the row links to: "proposal", "account" or "ledger" (the account's)

    @property
    def kind_words(self) -> str:
        return KINDS[self.kind]


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def _within(filters: ExceptionFilters, name: str) -> Q:
    """``name`` (a time) within the period's days: from the first day's start to the start of the day
    after the last (the last day of year 9999, the pages' bound, has none: no end then)."""
    q = Q(**{f"{name}__gte": _day_start(filters.start)})
    if filters.end < date.max:
        q &= Q(**{f"{name}__lt": _day_start(filters.end + timedelta(days=1))})
    return q


def _in_period(filters: ExceptionFilters, at: datetime) -> bool:
    return filters.start <= timezone.localtime(at).date() <= filters.end


def _scope(filters: ExceptionFilters, path: str) -> Q:
    """The household and advisor filters on a queryset whose household is at ``path``."""
    q = Q()
    words = " ".join(filters.household.split())
    if words:
        q &= Q(**{f"{path}name__icontains": words}) | Q(**{f"{path}external_id__iexact": words})
    if filters.advisor == "none":
        q &= Q(**{f"{path[:-2]}__in": households_without_advisor()})
    elif filters.advisor is not None:
        q &= Q(**{f"{path[:-2]}__in": households_advised_by(filters.advisor)})
    return q


def _proposal_state_q(filters: ExceptionFilters) -> Q:
    if filters.state == "pending":
        return Q(status__in=_OPEN)
    if filters.state == "decided":
        return ~Q(status__in=_OPEN)
    return Q()


# The engine's alert of a proposal whose sales lose a loss to wash sales it is allowed to make, or
# whose purchases wash an earlier loss sale (engine.wash_sales.disallowed_alert, washing_purchase_alert).
_WASHED = "wash_sale_disallowed"
# The engine's code of each alert kind whose amounts it stated bare (``runs.alert_text`` signs them when
# an alert is written; an alert written before that is signed when read).
_TAX_LIMIT = "tax_limit_exceeded"
_ALERT_CODES = {Alert.Kind.TAX_LIMIT: _TAX_LIMIT, Alert.Kind.WASH_SALE: _WASHED}


def _with_result_alerts(queryset):
    """The proposal's engine alerts, read from its stored result (a text document, ``DocumentField``,
    never loaded whole here) by the database: ``result["alerts"]``."""
    return queryset.annotate(result_alerts=KeyTransform("alerts", Cast("result", JSONField())))


def _wash_allowed_q(path: str = "") -> Q:
    """The proposal's parameters allow wash sales: ``tax_estimates.wash_sales_allowed`` as a query."""
    return Q(**{f"{path}parameters__wash_sale__allow": True})


def exception_keys(user, filters: ExceptionFilters) -> list[ExceptionKey]:
    """Every row of the period the filters select, as keys, newest first: one query per kind asked for."""
    keys: list[ExceptionKey] = []
    proposals = (proposals_visible_to(user).exclude(status=Proposal.Status.DRAFT)
                 .filter(_scope(filters, "account__household__"), _proposal_state_q(filters),
                         _within(filters, "created_at")).order_by())
    wanted = {
        "compliance": proposals.filter(requires_compliance=True),
        "restricted": proposals.filter(restricted_traded=True),
        "wash_allowed": _with_result_alerts(proposals.filter(_wash_allowed_q())).filter(
            result_alerts__contains=[{"code": _WASHED}]),
        "budget_aside": proposals.filter(
            Q(*[Q(parameters__instructions__contains=[{"kind": kind}]) for kind in _BUDGET_ASIDE], _connector=Q.OR),
            account__taxable=True),
    }
    for kind, qs in wanted.items():
        if filters.wants(kind):
            keys += [ExceptionKey(at, kind, pk) for pk, at in qs.values_list("pk", "created_at")]
    alerts = alerts_visible_to(user).filter(_scope(filters, "account__household__")).filter(
        _within(filters, "created_at") | _within(filters, "resolved_at")).order_by()
    if filters.state == "pending":
        alerts = alerts.filter(resolved_at__isnull=True)
    elif filters.state == "decided":
        alerts = alerts.filter(resolved_at__isnull=False)
    for kind, alert_kind in _ALERT_KINDS.items():
        if not filters.wants(kind):
            continue
        qs = alerts.filter(kind=alert_kind)
        if kind == "rmd_missed":
            qs = qs.filter(message__regex=_RMD_MISSED)
        for pk, created, resolved in qs.values_list("pk", "created_at", "resolved_at"):
            # Raised in the period: when it was raised; else resolved in it: when it was resolved.
            keys.append(ExceptionKey(created if _in_period(filters, created) else resolved, kind, pk))
    if filters.wants("wash_executed") and filters.state != "pending":  # an executed sale is done
        sales = (RealisedLot.objects.filter(account__in=accounts_visible_to(user), disallowed_loss__gt=0,
                                            sold__gte=filters.start, sold__lte=filters.end)
                 .filter(_scope(filters, "account__household__"))
                 .filter(_wash_allowed_q("execution__order__proposal__")
                         | Q(pk__in=BasisAdjustment.objects.filter(
                             _wash_allowed_q("purchase__order__proposal__")).values("source_id")))
                 .order_by().values("execution_id").annotate(sold_on=Min("sold")))
        keys += [ExceptionKey(_day_start(row["sold_on"]), "wash_executed", row["execution_id"]) for row in sales]
    return sorted(keys, reverse=True)


def exception_rows(keys: list[ExceptionKey]) -> list[ExceptionRow]:
    """``keys`` read whole, in their order: a fixed number of queries whatever their number."""
    by_kind: dict[str, list[int]] = defaultdict(list)
    for key in keys:
        by_kind[key.kind].append(key.pk)
    proposal_ids = {pk for kind in _PROPOSAL_KINDS for pk in by_kind.get(kind, ())}
    proposals = _proposals(proposal_ids, restricted=set(by_kind.get("restricted", ())),
                           washed=set(by_kind.get("wash_allowed", ())))
    alert_ids = [pk for kind in _ALERT_KINDS for pk in by_kind.get(kind, ())]
    alerts = {a.pk: a for a in with_advisors(Alert.objects.filter(pk__in=alert_ids), "account__household__")
              .select_related("account__household", "run__started_by")} if alert_ids else {}
    sales = _sales(by_kind.get("wash_executed", []))
    rows = []
    for key in keys:
        if key.kind in _PROPOSAL_KINDS:
            rows.append(_proposal_row(key, proposals[key.pk]))
        elif key.kind in _ALERT_KINDS:
            rows.append(_alert_row(key, alerts[key.pk]))
        else:
            rows.append(sales[key.pk])
    return rows


# --- Proposals -------------------------------------------------------------------------------------

def _proposals(ids: set[int], *, restricted: set[int], washed: set[int]) -> dict[int, Proposal]:
    """The proposals with what their rows say: decisions, the policy's reasons, the wash-sale alerts
    of those allowing wash sales, and for those trading a restricted security, which (their results
    read, the list read once)."""
    if not ids:
        return {}
    qs = (with_advisors(Proposal.objects.filter(pk__in=ids), "account__household__")
          .select_related("account__household", "run__started_by", "revised_by").defer("result")
          .prefetch_related("approvals__user"))
    found = {p.pk: p for p in qs}
    reasons: dict[str, str] = {}
    for object_id, comment in (AuditEvent.objects.filter(
            object_type="proposal", object_id__in=[str(pk) for pk in ids],
            action__in=[Action.PROPOSAL_SUBMIT, Action.PROPOSAL_APPROVAL_LAPSED])
            .order_by("at", "id").values_list("object_id", "comment")):
        reasons[object_id] = _in_dollars(comment)  # the latest wins
    policy = ApprovalPolicy.current()
    for p in found.values():
        p.policy_reasons = reasons.get(str(p.pk), "")
        if not p.policy_reasons and p.requires_compliance:
            # Sent by a run, whose bulk submission records no reasons: the policy's today, from the
            # proposal's own figures (its result deferred: no query, the securities unnamed).
            today = "; ".join(policy_decide(policy, p, discretionary=p.account.discretionary).reasons)
            p.policy_reasons = (f"{today} (by the policy's thresholds today)" if today else
                                "by the policy's thresholds when it was sent (they have changed since)")
        p.restricted_said, p.washed_alerts = "", []
    if washed:
        for pk, alerts in _with_result_alerts(Proposal.objects.filter(pk__in=washed)).values_list("pk", "result_alerts"):
            found[pk].washed_alerts = [a for a in alerts or () if isinstance(a, dict) and a.get("code") == _WASHED]
    if restricted:
        results = dict(Proposal.objects.filter(pk__in=restricted).values_list("pk", "result"))
        entries = _restricted_by_day({found[pk].run.as_of for pk in restricted})
        for pk in restricted:
            p = found[pk]
            p.result = results[pk]
            against = restricted_trades(p, entries[p.run.as_of])
            p.restricted_said = ", ".join(dict.fromkeys(
                f"{symbol} ({entry.get_restriction_display().lower()}: {entry.reason})" for symbol, _, entry in against))
    return found


def _restricted_by_day(days: set[date]) -> dict[date, dict[str, RestrictedSecurity]]:
    """The firm's list in force on each of ``days`` by symbol, do not trade winning (as
    ``proposals.restricted_entries_on``), from one query of the entries in force on any of them."""
    qs = RestrictedSecurity.objects.none()
    for day in days:
        qs = qs | RestrictedSecurity.objects.in_force_on(day)
    entries = list(qs.select_related("security").order_by("pk"))
    out: dict[date, dict[str, RestrictedSecurity]] = {}
    for day in days:
        listed: dict[str, RestrictedSecurity] = {}
        for entry in entries:
            if not (entry.starts_on <= day and (entry.until is None or entry.until >= day)
                    and (entry.lifted_on is None or entry.lifted_on > day)):  # in_force_on(day)
                continue
            held = listed.get(entry.security.symbol)
            if held is None or entry.restriction == RestrictedSecurity.Restriction.DO_NOT_TRADE:
                listed[entry.security.symbol] = entry
        out[day] = listed
    return out


def _in_dollars(reasons: str) -> str:
    """The policy's reasons as the page says money: an audit row written before they gave amounts in
    dollars ("estimated tax 39,976.09 ≥ 25,000.00") read as "$39,976.09 ≥ $25,000.00" - the row itself
    is kept as written. (Its turnover, a percentage, and any "$" amount are left as they are.)"""
    return alert_text(_TAX_LIMIT, reasons)


def _money(value) -> str:
    return f"-${-value:,.2f}" if value < 0 else f"${value:,.2f}"


def _person(user) -> str:
    return (user.get_full_name() or user.get_username()) if user is not None else ""


def _decisions(p: Proposal) -> list[str]:
    out = []
    for d in p.approvals.all():
        by = _person(d.user) or "the firm's policy"
        line = f"{d.get_decision_display()} by {by} ({d.get_capacity_display().lower()}), {timezone.localtime(d.at):%Y-%m-%d %H:%M}"
        out.append(line + (f": {d.comment}" if d.comment else ""))
    return out


def _proposal_state(p: Proposal) -> str:
    if p.status == Proposal.Status.PENDING:
        have = {d.capacity for d in p.approvals.all() if d.decision == ProposalApproval.Decision.APPROVE}
        waiting = [c for c in ([ProposalApproval.Capacity.ADVISOR]
                               + ([ProposalApproval.Capacity.COMPLIANCE] if p.requires_compliance else []))
                   if c not in have]  # services.proposals.approvals_missing, from the prefetched decisions
        words = {"advisor": "its advisor's", "compliance": "compliance's"}
        return "pending " + " and ".join(words[c] for c in waiting) + " approval" if waiting else "pending"
    return p.get_status_display().lower()


def _started_by(run) -> str:
    return _person(run.started_by) or run.started_by_label or run.get_kind_display().lower()


def _proposal_row(key: ExceptionKey, p: Proposal) -> ExceptionRow:
    who = f"solved by run {p.run.pk}, started by {_started_by(p.run)}"
    if p.revised_by_id:
        who = f"asked by {_person(p.revised_by)}" + (" (an edit)" if p.revised_from_id else "")
    amount = None
    if key.kind == "compliance":
        what = f"Sent to compliance: {p.policy_reasons or 'by the policy'}"
        amount = p.estimated_tax
        what += f"; estimated tax {_money(p.estimated_tax)}, turnover {p.turnover:.1%}"
    elif key.kind == "restricted":
        what = "Trades " + (p.restricted_said or "a security on the firm's restricted list")
    elif key.kind == "wash_allowed":
        amounts = [Decimal(str(a["amount"])) for a in p.washed_alerts if a.get("amount") is not None]
        amount = sum(amounts, Decimal(0)).quantize(Decimal("0.01")) if amounts else None
        said = "; ".join(alert_text(_WASHED, a.get("message", "")) for a in p.washed_alerts)
        what = f"Wash sales allowed by its parameters (wash_sale.allow): {said} (IRC §1091)"
    else:
        kinds = [i.get("kind") for i in (p.parameters or {}).get("instructions") or () if isinstance(i, dict)]
        said = [_INSTRUCTION_WORDS[k] for k in dict.fromkeys(kinds) if k in _BUDGET_ASIDE]
        amount = p.estimated_tax
        what = (f"Instruction to {' and '.join(said)}: the tax budget set aside this once; estimated tax "
                f"{_money(p.estimated_tax)}")
    household = p.account.household
    return ExceptionRow(kind=key.kind, at=key.at, pending=p.status in _OPEN, state=_proposal_state(p),
                        account_id=p.account_id, account_number=p.account.custodian_number,
                        household_name=household.name, advisors=household.advisor_names, what=what, who=who,
                        decisions=_decisions(p), amount=amount, proposal_id=p.pk)


# --- Alerts ----------------------------------------------------------------------------------------

def _alert_row(key: ExceptionKey, a: Alert) -> ExceptionRow:
    resolved = a.resolved_at is not None
    household = a.account.household
    who = f"raised by run {a.run.pk} ({_started_by(a.run)})" if a.run is not None else "raised by the product"
    amount = a.amount
    if key.kind == "rmd_missed" and (left := _MISSED_LEFT.findall(a.message)):
        amount = sum((Decimal(x.replace(",", "")) for x in left), Decimal("0.00"))
    return ExceptionRow(
        kind=key.kind, at=key.at, pending=not resolved,
        state=f"resolved {timezone.localtime(a.resolved_at):%Y-%m-%d}" if resolved else "open",
        account_id=a.account_id, account_number=a.account.custodian_number, household_name=household.name,
        advisors=household.advisor_names, what=re.sub(r"\s+", " ", _alert_in_dollars(a)), who=who, amount=amount,
        link="account")


def _alert_in_dollars(alert: Alert) -> str:
    code = _ALERT_CODES.get(alert.kind)
    return alert_text(code, alert.message) if code else alert.message


# --- Executed sales --------------------------------------------------------------------------------

def _sales(execution_ids: list[int]) -> dict[int, ExceptionRow]:
    """Each sale fill's lots with a loss a wash sale disallowed, totalled: two queries."""
    if not execution_ids:
        return {}
    totals = {row["execution_id"]: row for row in RealisedLot.objects.filter(
        execution_id__in=execution_ids, disallowed_loss__gt=0).order_by().values("execution_id").annotate(
        disallowed=Sum("disallowed_loss"), gain=Sum("gain"), sold=Min("sold"))}
    lots = (with_advisors(RealisedLot.objects.filter(execution_id__in=execution_ids, disallowed_loss__gt=0),
                          "account__household__")
            .select_related("account__household", "security", "execution__order__proposal")
            .only("execution", "account__custodian_number", "account__household__name", "security__symbol",
                  "execution__order__proposal__status", "execution__order__proposal_id",
                  "execution__applied_by", "execution__applied_at", "execution__quantity",
                  "execution__order__order_id").order_by("execution_id", "pk"))
    out = {}
    for lot in lots:
        if lot.execution_id in out:
            continue
        total, execution = totals[lot.execution_id], lot.execution
        household = lot.account.household
        out[lot.execution_id] = ExceptionRow(
            kind="wash_executed", at=_day_start(total["sold"]), pending=False, state=f"executed {total['sold']:%Y-%m-%d}",
            account_id=lot.account_id, account_number=lot.account.custodian_number, household_name=household.name,
            advisors=household.advisor_names,
            what=(f"Sold {execution.quantity.normalize():f} {lot.security.symbol} on {total['sold']:%Y-%m-%d} "
                  f"(order {execution.order.order_id}): {_money(total['disallowed'])} of the loss disallowed by a wash "
                  "sale a proposal allowing wash sales made (IRC §1091; Form 8949 code W)"),
            who=f"fill applied by {execution.applied_by or 'the product'}", amount=total["disallowed"],
            proposal_id=execution.order.proposal_id, link="ledger")
    return out

