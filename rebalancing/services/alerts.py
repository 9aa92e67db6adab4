"""An account's open alerts as its trades and settings settle them.

A run's solve writes and resolves alerts (``services.runs._alerts_write``); between runs two things
change what an alert measured. A proposal's trades going through: once they all fill, the account's
drift is what they left, and the drift alert the proposal answered is no longer true. And a change
of settings that stops harvesting for an account: the harvest alert raised while it harvested said
why a loss was not harvested under settings it no longer has.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from rebalancing.models import Account, Alert, Order, Proposal, RebalanceRun
from rebalancing.selectors import account_parameters, firm_harvest_substitutes

__all__ = ["drift_alert_resolve_executed", "drift_alerts_follow_superseded", "harvest_alerted",
           "harvest_alerts_resolve_switched_off"]


@transaction.atomic
def drift_alert_resolve_executed(*, proposal: Proposal) -> int:
    """``proposal`` has just become executed: resolve its account's open drift alert raised by the
    proposal's run (or an earlier one), since the trades that answered it have all filled. Kept open
    when an order was cancelled in part or whole (the drift is not what the proposal planned, and
    the account page measures what is left) or when a later run raised it again (it measured the
    account after this proposal was made). A withdrawal's or RMD's proposal rebalances nothing, and a
    one-off instruction's trades follow the advisor's command, not the bands: as its solve decides no
    drift alert (``runs.alerts_record``), its execution resolves none; the next run decides.
    Returns how many alerts were resolved.

    Not audited, as a run's resolutions are not (``_alerts_write``): the proposal's own
    ``proposal.execute`` audit row, written in the same transaction, records the cause."""
    if proposal.run.kind in (RebalanceRun.Kind.CASH_FLOW, RebalanceRun.Kind.INSTRUCTION):
        return 0
    if Order.objects.filter(proposal=proposal, cancelled_quantity__gt=0).exists():
        return 0
    return (Alert.objects.filter(account_id=proposal.account_id, kind=Alert.Kind.DRIFT, resolved_at__isnull=True)
            .filter(Q(run__isnull=True) | Q(run_id__lte=proposal.run_id))
            .update(resolved_at=timezone.now()))


# A proposal that still stands for its account: open, or released and its orders out.
_STANDING = (Proposal.Status.DRAFT, Proposal.Status.PENDING, Proposal.Status.APPROVED, Proposal.Status.RELEASED)


def drift_alerts_follow_superseded(*, account_ids: Iterable[int]) -> int:
    """Open drift alerts of ``account_ids`` raised by a run whose proposal for the account has been
    superseded move to the run of the proposal that stands for the account now (its newest open or
    released one, made later: a withdrawal's, a one-off instruction's, a later run's), so the alert
    leads to the proposal current for it, not to one that will never trade. The drift it measured
    is the account's, not the superseded proposal's: it stays open (``drift_alert_resolve_executed``
    decides when trades answer it; a withdrawal's or instruction's execution resolves none). An alert
    whose run's proposal still stands, or with nothing standing after it, is left as it is.
    Returns how many alerts moved."""
    ids = list(account_ids)
    if not ids:
        return 0
    mine = {"account_id": OuterRef("account_id"), "run_id": OuterRef("run_id")}
    current = (Proposal.objects.filter(account_id=OuterRef("account_id"), run_id__gt=OuterRef("run_id"),
                                       status__in=_STANDING).order_by("-run_id", "-pk").values("run_id")[:1])
    return (Alert.objects.filter(account_id__in=ids, kind=Alert.Kind.DRIFT, resolved_at__isnull=True,
                                 run__isnull=False)
            .filter(Exists(Proposal.objects.filter(**mine, status=Proposal.Status.SUPERSEDED)))
            .exclude(Exists(Proposal.objects.filter(**mine, status__in=_STANDING)))
            .filter(Exists(current))
            .update(run_id=Subquery(current)))


def _harvesting(account_ids: Iterable[int]) -> set[int]:
    """Of ``account_ids``, those harvesting applies to as their settings stand: taxable (the engine
    harvests nothing else), with ``harvest.enabled`` in their effective parameters."""
    accounts = list(Account.objects.filter(pk__in=list(account_ids), taxable=True).select_related("household")
                    .with_governing_template())
    if not accounts:
        return set()
    substitutes = firm_harvest_substitutes()  # once, not per account (the restricted list: not needed)
    return {a.pk for a in accounts
            if account_parameters(a, firm_substitutes=substitutes, firm_restrictions={}).value_at("harvest.enabled")}


def harvest_alerted(accounts: QuerySet[Account]) -> set[int]:
    """Before a change of settings of ``accounts`` (a template, overrides, an assignment, a move):
    those with an open harvest alert that harvesting applies to, for
    ``harvest_alerts_resolve_switched_off`` after the change."""
    alerted = (Alert.objects.filter(account__in=accounts.order_by().values("pk"), kind=Alert.Kind.HARVEST,
                                    resolved_at__isnull=True).values_list("account_id", flat=True))
    return _harvesting(set(alerted))


@transaction.atomic
def harvest_alerts_resolve_switched_off(*, account_ids: Iterable[int]) -> int:
    """After a change of settings: resolve the open harvest alert of those of ``account_ids`` (from
    ``harvest_alerted``) that harvesting no longer applies to (switched off for them, or no longer
    taxable). It gave the reason a loss was not harvested with harvesting on; the next run says
    what is true under the new settings. Returns how many alerts were resolved.

    Not audited, as a run's resolutions are not: the change's own audit row (``account.parameters``,
    ``template.change``...), written in the same transaction, records the cause."""
    watched = set(account_ids)
    stopped = watched - _harvesting(watched)
    if not stopped:
        return 0
    return (Alert.objects.filter(account_id__in=stopped, kind=Alert.Kind.HARVEST, resolved_at__isnull=True)
            .update(resolved_at=timezone.now()))
