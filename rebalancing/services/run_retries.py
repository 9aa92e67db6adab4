"""Running a finished run's failed accounts again, in a run of their own: one home for the firm's run
page and the provider's. A run's failed accounts are run again once; what still fails then is on the
retry's own page and runs again from there - a second click on a page left open (or a back button)
started a second run over the same accounts and day, whose proposals superseded the first's."""

from __future__ import annotations

from django.db import transaction

from rebalancing.models import RebalanceRun, RunOutcome
from rebalancing.selectors import RunScope
from rebalancing.services.runs import run_start
from tenants.errors import Conflict, ValidationFailed

__all__ = ["RUN_FINISHED", "failed_accounts_retry", "run_retried_in"]

RUN_FINISHED = (RebalanceRun.Status.COMPLETED, RebalanceRun.Status.CANCELLED, RebalanceRun.Status.FAILED)


def run_retried_in(run: RebalanceRun) -> RebalanceRun | None:
    """The run that ran ``run``'s failed accounts again, if one did."""
    return RebalanceRun.objects.filter(scope__retry_of=run.pk).order_by("-pk").first()


@transaction.atomic
def failed_accounts_retry(*, run: RebalanceRun, accounts=None, user=None, label: str = "") -> RebalanceRun:
    """Start a run over the accounts ``run`` failed (of ``accounts`` when given: what the user sees),
    as of ``run``'s own day. Refused while ``run`` is still going, when nothing failed, and when its
    failed accounts were run again already (naming that run)."""
    run = RebalanceRun.objects.select_for_update().get(pk=run.pk)  # (two clicks at once: one run)
    if run.status not in RUN_FINISHED:
        raise ValidationFailed(f"Run {run.pk} is still running; its failed accounts can be run again once it ends.",
                               detail={"run": run.pk, "status": run.status})
    earlier = run_retried_in(run)
    if earlier is not None:
        raise Conflict(f"Run {run.pk}'s failed accounts were run again in run {earlier.pk} "
                       f"({earlier.get_status_display().lower()}); what still fails is on run {earlier.pk}'s page "
                       "and runs again from there.", code="already_retried",
                       detail={"run": run.pk, "retried_in": earlier.pk})
    failed = RunOutcome.objects.filter(run=run, outcome=RunOutcome.Outcome.FAILED)
    if accounts is not None:
        failed = failed.filter(account__in=accounts)
    account_ids = tuple(sorted(failed.values_list("account_id", flat=True)))
    if not account_ids:
        raise ValidationFailed(f"No account failed in run {run.pk}; there is nothing to run again.",
                               detail={"run": run.pk})
    return run_start(scope=RunScope(account_ids=account_ids, retry_of=run.pk), as_of=run.as_of, user=user,
                     label=label)
