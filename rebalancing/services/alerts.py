"""An account's open alerts as its trades settle them.

A run's solve writes and resolves alerts (``services.runs._alerts_write``); between runs the only
thing that changes what an alert measured is a proposal's trades going through. Once they all fill,
the account's drift is what they left, and the drift alert the proposal answered is no longer true.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from rebalancing.models import Alert, Order, Proposal, RebalanceRun

__all__ = ["drift_alert_resolve_executed"]


@transaction.atomic
def drift_alert_resolve_executed(*, proposal: Proposal) -> int:
    """``proposal`` has just become executed: resolve its account's open drift alert raised by the
    proposal's run (or an earlier one), since the trades that answered it have all filled. Kept open
    when an order was cancelled in part or whole (the drift is not what the proposal planned, and
    the account page measures what is left) or when a later run raised it again (it measured the
    account after this proposal was made). A withdrawal's or RMD's proposal rebalances nothing.
    Returns how many alerts were resolved.

    Not audited, as a run's resolutions are not (``_alerts_write``): the proposal's own
    ``proposal.execute`` audit row, written in the same transaction, records the cause."""
    if proposal.run.kind == RebalanceRun.Kind.CASH_FLOW:
        return 0
    if Order.objects.filter(proposal=proposal, cancelled_quantity__gt=0).exists():
        return 0
    return (Alert.objects.filter(account_id=proposal.account_id, kind=Alert.Kind.DRIFT, resolved_at__isnull=True)
            .filter(Q(run__isnull=True) | Q(run_id__lte=proposal.run_id))
            .update(resolved_at=timezone.now()))
