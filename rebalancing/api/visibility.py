"""What a user may see of the firm-wide data that rebalancing.access does not cover.

Market data, models and templates are the same for everyone in a firm who may view the book; runs
are firm-wide work, so an advisor sees only runs that touched one of their accounts; the audit log
is for those who may read it; custodian reconciliations for those who may import; the firm's risk
model versions for those who may run rebalances (who may also estimate one).

Pages start from these as well as the API (frontend/views), so both show the same things.
"""

from django.db.models import Exists, OuterRef, QuerySet

from rebalancing.access import accounts_visible_to
from rebalancing.models import (
    Backtest,
    RebalanceRun,
    Reconciliation,
    RiskModelEstimate,
    RiskModelVersion,
    RunOutcome,
)
from tenants.audit.models import AuditEvent
from tenants.permissions import Capability, is_advisor_only, user_can

__all__ = [
    "audit_events_visible_to", "backtests_visible_to", "book_wide_visible_to", "reconciliations_visible_to",
    "risk_model_estimates_visible_to", "risk_models_visible_to", "run_scope_shown_to", "runs_visible_to",
]


def book_wide_visible_to(user, queryset: QuerySet) -> QuerySet:
    """``queryset`` (securities, prices, benchmarks, models, templates) for anyone who may view the book."""
    return queryset if user_can(user, Capability.VIEW_BOOK) else queryset.none()


def runs_visible_to(user) -> QuerySet:
    if not user_can(user, Capability.VIEW_BOOK):
        return RebalanceRun.objects.none()
    if is_advisor_only(user):
        touched = RunOutcome.objects.filter(run=OuterRef("pk"), account__in=accounts_visible_to(user))
        return RebalanceRun.objects.filter(Exists(touched))
    return RebalanceRun.objects.all()


def run_scope_shown_to(user, scope: dict) -> dict:
    """A run's scope as ``user`` may read it: of a selection of accounts, those they may see (an
    advisor reading a run that also covered a colleague's accounts does not learn their ids); every
    other part as it is (a household's or an advisor's run touching none of theirs is not theirs to
    see at all). The run's progress (total, done, failed) stays the run's own."""
    ids = (scope or {}).get("account_ids")
    if not ids or not is_advisor_only(user):
        return scope
    seen = set(accounts_visible_to(user).filter(pk__in=ids).values_list("pk", flat=True))
    return {**scope, "account_ids": [pk for pk in ids if pk in seen]}


def backtests_visible_to(user) -> QuerySet:
    """Backtests are the firm's prospect work: an advisor sees their own, the other roles all."""
    if not user_can(user, Capability.VIEW_BOOK):
        return Backtest.objects.none()
    if is_advisor_only(user):
        return Backtest.objects.filter(created_by=user)
    return Backtest.objects.all()


def audit_events_visible_to(user) -> QuerySet:
    return AuditEvent.objects.all() if user_can(user, Capability.READ_AUDIT) else AuditEvent.objects.none()


def reconciliations_visible_to(user) -> QuerySet:
    """Whole position files, for those who read them (importing and deciding need IMPORT_DATA; each
    account in them is still filtered by ``accounts_visible_to`` where it is listed)."""
    if not user_can(user, Capability.VIEW_RECONCILIATIONS):
        return Reconciliation.objects.none()
    return Reconciliation.objects.all()


def risk_models_visible_to(user) -> QuerySet:
    """The firm's risk model versions, for those who read them (the Risk model page's rule)."""
    if not user_can(user, Capability.VIEW_RISK_MODEL):
        return RiskModelVersion.objects.none()
    return RiskModelVersion.objects.all()


def risk_model_estimates_visible_to(user) -> QuerySet:
    """Estimates of the firm's risk model asked for now, for the same people as its versions."""
    if not user_can(user, Capability.VIEW_RISK_MODEL):
        return RiskModelEstimate.objects.none()
    return RiskModelEstimate.objects.all()
