"""A firm's health for the provider console: read inside the firm's schema, judged in one place."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from django.db.models import OuterRef, Subquery
from django.utils import timezone
from django_tenants.utils import schema_context

from rebalancing.models import Account, Proposal, RebalanceRun, RunOutcome, RunWatch
from rebalancing.services.run_recovery import stalled_runs, unwatched_runs
from tenants.models import Firm, FirmUsage

__all__ = ["QUEUED_TOO_LONG", "FirmHealth", "accounts_failed_last", "firm_health", "runs_over_the_book",
           "runs_queued_too_long"]

# A run still queued this long after it was started: no worker has picked its dispatch up (a busy
# queue, or no worker), which the stall watch, counting from the run's progress, does not say soon.
QUEUED_TOO_LONG = timedelta(minutes=10)


# What narrows a run to part of the book (rebalancing.selectors.RunScope); a minimum drift does not:
# such a run still looks at every account.
_PART_OF_THE_BOOK = ["account_ids", "household_id", "model_code", "template_code", "advisor_id"]


def runs_over_the_book():
    """Runs over the firm's whole book (the nightly scan, a whole-firm run), latest first, queued
    ones left out: "the last run" of a firm's health and failures. A re-solve of one proposal, an
    instruction or a household's withdrawal runs a few accounts and says nothing of the others."""
    return (RebalanceRun.objects.filter(scope__firm=True).exclude(scope__has_any_keys=_PART_OF_THE_BOOK)
            .exclude(status=RebalanceRun.Status.QUEUED).order_by("-created_at", "-id"))


def runs_queued_too_long(*, now=None):
    """This firm's runs queued for longer than ``QUEUED_TOO_LONG``, oldest first."""
    cutoff = (now or timezone.now()) - QUEUED_TOO_LONG
    return RebalanceRun.objects.filter(status=RebalanceRun.Status.QUEUED, created_at__lt=cutoff) \
        .order_by("created_at", "id")


def accounts_failed_last(accounts):
    """Of ``accounts``, those the latest run that covered each failed: an account failed until a
    later run of it gets through (a one-account run of another account changes nothing)."""
    latest = (RunOutcome.objects.filter(account=OuterRef("pk"))
              .exclude(run__status=RebalanceRun.Status.QUEUED).order_by("-run_id").values("outcome")[:1])
    return accounts.annotate(last_outcome=Subquery(latest)).filter(last_outcome=RunOutcome.Outcome.FAILED)


@dataclass
class FirmHealth:
    firm: Firm
    host: str
    accounts: int = 0
    pending: int = 0
    last_run: RebalanceRun | None = None  # the last run over the whole book: what health is about
    latest_run: RebalanceRun | None = None  # the latest run of any scope (a retry, one household...)
    failed_last: int = 0  # accounts the last run over the book failed that no later run got through
    failed_since: int = 0  # accounts whose own latest run (of any kind) failed
    users: int | None = None
    status: str = "good"
    problem: str = ""
    stalled: list = field(default_factory=list)  # RunWatch of runs stalled now
    recovered: int = 0  # runs recovered from a stall in the last week
    queued_long: list = field(default_factory=list)  # runs queued longer than QUEUED_TOO_LONG (oldest 5)
    queued_long_count: int = 0


def firm_health(firm: Firm) -> FirmHealth:
    """How a firm is doing, read inside its schema: accounts, approvals waiting, the last run,
    stalled and recovered runs, and the worst problem in words (``status``: good, warn, bad)."""
    host = next((d.domain for d in firm.domains.all() if d.is_primary), "")
    health = FirmHealth(firm, host)
    usage = FirmUsage.objects.filter(firm=firm).first()
    health.users = usage.users if usage else None
    try:
        with schema_context(firm.schema_name):
            health.accounts = Account.objects.count()
            health.pending = Proposal.objects.filter(status=Proposal.Status.PENDING).count()
            health.last_run = runs_over_the_book().first() or RebalanceRun.objects.first()
            health.latest_run = RebalanceRun.objects.order_by("-created_at", "-id").first()
            if health.last_run is not None and health.last_run.failed:
                # An account the last run over the book failed that a later run (its failed accounts
                # run again, or its own) got through is no longer failing.
                failed_there = RunOutcome.objects.filter(run=health.last_run, outcome=RunOutcome.Outcome.FAILED)
                health.failed_last = accounts_failed_last(
                    Account.objects.filter(pk__in=failed_there.values("account_id"))).count()
            health.failed_since = accounts_failed_last(Account.objects.all()).count()
            health.stalled = stalled_runs()
            health.recovered = RunWatch.objects.filter(recovered_at__gte=timezone.now() - timedelta(days=7)).count()
            unwatched = unwatched_runs()
            queued = runs_queued_too_long()
            health.queued_long, health.queued_long_count = list(queued[:5]), queued.count()
    except Exception as exc:  # a firm whose schema cannot be read is shown as such, not a crash
        health.status, health.problem = "bad", f"cannot read the firm's schema ({exc.__class__.__name__})"
        return health
    run = health.last_run
    if health.stalled:
        health.status, health.problem = "bad", "; ".join(_stall_text(w) for w in health.stalled)
    elif unwatched:
        health.status, health.problem = "bad", (f"run {unwatched[0].pk} is {unwatched[0].get_status_display().lower()} "
                                                "and no stall watch has looked at it: is Celery beat running?")
    elif health.queued_long:
        health.status, health.problem = "warn", _queued_text(health.queued_long[0], health.queued_long_count)
    elif firm.status != Firm.Status.ACTIVE:
        health.status, health.problem = "warn", "suspended"
    elif run is None:
        health.status, health.problem = "warn", "no run yet"
    elif run.status == RebalanceRun.Status.FAILED or (run.total and health.failed_last / run.total > 0.05):
        health.status, health.problem = "bad", _failed_text(run, health.failed_last, of_total=True)
    elif health.failed_last:
        health.status, health.problem = "warn", _failed_text(run, health.failed_last, of_total=False)
    elif run.total == 0 and run.status == RebalanceRun.Status.COMPLETED:
        health.status, health.problem = "warn", (f"the last run found no account to rebalance, of {health.accounts} "
                                                 "(an account is rebalanced once it has a model)")
    elif health.failed_since:
        health.status, health.problem = "warn", (f"{_accounts(health.failed_since)} failed in {'its' if health.failed_since == 1 else 'their'} latest run, "
                                                 "after the last run over the book")
    elif run.finished_at and (timezone.now() - run.finished_at).days > 2:
        health.status, health.problem = "warn", "no run finished in the last two days"
    return health


def _accounts(n: int) -> str:
    return f"{n} account{'' if n == 1 else 's'}"


def _failed_text(run: RebalanceRun, still: int, *, of_total: bool) -> str:
    """The last run over the book's failures, less those a later run got through; ``of_total``:
    out of how many (when they are many of the run's)."""
    if still == run.failed or run.status == RebalanceRun.Status.FAILED:
        return f"{run.failed} of {run.total} accounts failed in the last run" if of_total \
            else f"{_accounts(run.failed)} failed in the last run"
    return (f"{still} of the {run.failed} accounts that failed in the last run (of {run.total}) still fail; "
            f"{run.failed - still} got through in a later run")


def _stall_text(watch: RunWatch) -> str:
    run = watch.run
    text = (f"run {run.pk} stalled at {watch.progress}/{run.total} since {watch.progress_seen_at:%b %d %H:%M} UTC, "
            f"sent again {watch.redispatches}×")
    return text + (" — re-dispatching stopped: check the workers" if watch.given_up_at else "")


def _queued_text(oldest: RebalanceRun, count: int) -> str:
    minutes = int((timezone.now() - oldest.created_at).total_seconds() // 60)
    waited = f"{minutes} minutes" if minutes < 120 else f"{minutes // 60} hours"
    since = f"{waited} (since {oldest.created_at:%b %d %H:%M} UTC)"
    limit = int(QUEUED_TOO_LONG.total_seconds() // 60)
    if count == 1:
        text = f"run {oldest.pk} has waited in the queue for {since} without a worker starting it"
    else:
        text = (f"{count} runs have waited in the queue for more than {limit} minutes without a worker starting "
                f"them (the oldest, run {oldest.pk}, for {since})")
    return text + ": the queue is busy, or no worker takes this firm's runs - check the workers"
