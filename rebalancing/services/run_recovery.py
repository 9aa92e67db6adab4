"""Stalled runs: found, sent again, and recovered.

A worker killed with a chunk in hand leaves the run "running" for ever: the chunk's writes roll back
with it, and its message is gone (the filesystem broker deletes a message when it is taken) or held
back for the broker's visibility timeout (Redis: an hour). Beat sends ``runs_watch`` to every firm
each minute (``RUN_WATCH_SECONDS``); it notes when each queued or running run last made progress, and
a run whose progress has not moved for ``RUN_STALL_SECONDS`` is stalled: the accounts of its chunks
that have no outcome yet are sent again, chunk by chunk as ``run_chunks`` cut them (a household stays
together). Chunks are idempotent (one outcome and one proposal per run and account), so sending one
that was only slow, not lost, costs a redo of nothing. Without progress after that, it is sent again
after twice as long, and so on up to ``RUN_STALL_MAX_REDISPATCHES`` times, then left for a person
(the provider console shows it). A stalled run that then completes is "recovered".

Every step is in the audit trail (actor "stall watch") and in ``RunWatch``, which the provider console
and the run's page read.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from rebalancing import dispatch
from rebalancing.models import RebalanceRun, RunOutcome, RunWatch
from rebalancing.webhooks import events as webhook_events
from tenants.audit.services import audit_record

__all__ = ["WATCHER", "WatchReport", "run_redispatch", "runs_watch", "stalled_runs", "unwatched_runs"]

logger = logging.getLogger(__name__)

WATCHER = "stall watch"
_ACTIVE = (RebalanceRun.Status.QUEUED, RebalanceRun.Status.RUNNING)


@dataclass(frozen=True)
class WatchReport:
    watched: int
    stalled: list[int]  # runs sent again in this pass
    recovered: list[int]
    given_up: list[int]


def run_redispatch(run: RebalanceRun) -> int:
    """Send again, once this transaction commits, every chunk of ``run`` that has accounts without an
    outcome (just those accounts). Returns the number of chunks; 0 when nothing is left to do."""
    from rebalancing.services.runs import run_chunks

    finished = set(RunOutcome.objects.filter(run=run).values_list("account_id", flat=True))
    chunks = [todo for chunk in run_chunks(run) if (todo := [a for a in chunk if a not in finished])]
    for todo in chunks:
        transaction.on_commit(lambda todo=todo: dispatch.send(dispatch.REBALANCE_CHUNK, run.pk, todo))
    return len(chunks)


def _deadline(watch: RunWatch) -> timedelta:
    return timedelta(seconds=settings.RUN_STALL_SECONDS) * (2 ** watch.attempts)


def _finish_emptied(run: RebalanceRun, watch: RunWatch, now: datetime) -> None:
    """Nothing is left to send, yet the run counts fewer accounts done than it started with: accounts
    left its scope (closed or moved) after it began. It is complete with what it did."""
    RebalanceRun.objects.filter(pk=run.pk, status__in=_ACTIVE).update(status=RebalanceRun.Status.COMPLETED,
                                                                      finished_at=now)
    watch.note = f"{run.total - run.done - run.failed} account(s) left the run's scope after it started"
    audit_record(actor=WATCHER, action="run.complete", obj=run, before={"status": run.status},
                 after={"status": RebalanceRun.Status.COMPLETED, "done": run.done, "failed": run.failed},
                 comment=watch.note)
    webhook_events.run_finished(run.pk)


def _look_at(run: RebalanceRun, now: datetime, report: WatchReport) -> None:
    progress = run.done + run.failed
    watch = RunWatch.objects.select_for_update(skip_locked=True).filter(run=run).first()
    if watch is None:
        if RunWatch.objects.filter(run=run).exists():
            return  # another pass holds it
        RunWatch.objects.create(run=run, progress=progress, progress_seen_at=now)
        return
    if progress != watch.progress:
        watch.progress, watch.progress_seen_at, watch.attempts = progress, now, 0
        watch.save(update_fields=["progress", "progress_seen_at", "attempts"])
        return
    quiet_since = max(watch.progress_seen_at, watch.last_redispatch_at or watch.progress_seen_at)
    if now - quiet_since < _deadline(watch) or watch.given_up_at is not None:
        return
    if watch.attempts >= settings.RUN_STALL_MAX_REDISPATCHES:
        watch.given_up_at = now
        watch.save(update_fields=["given_up_at"])
        audit_record(actor=WATCHER, action="run.stall_give_up", obj=run, after={"done": run.done, "total": run.total},
                     comment=f"no progress after {watch.attempts} re-dispatches: check the workers")
        webhook_events.run_stalled(run, given_up=True, attempts=watch.attempts)
        report.given_up.append(run.pk)
        return
    chunks = run_redispatch(run)
    if chunks == 0:
        _finish_emptied(run, watch, now)
        watch.stalled_at = watch.stalled_at or now  # kept, with its note, for the run's page
        watch.save(update_fields=["note", "stalled_at"])
        return
    first = watch.stalled_at is None
    watch.stalled_at = watch.stalled_at or now
    watch.attempts += 1
    watch.redispatches += 1
    watch.last_redispatch_at = now
    watch.save(update_fields=["stalled_at", "attempts", "redispatches", "last_redispatch_at"])
    audit_record(actor=WATCHER, action="run.redispatch", obj=run,
                 after={"done": run.done, "failed": run.failed, "total": run.total, "chunks": chunks,
                        "attempt": watch.attempts},
                 comment=(f"no progress since {watch.progress_seen_at:%Y-%m-%d %H:%M:%S} UTC"
                          + ("" if first else f"; sent again (attempt {watch.attempts})")))
    logger.warning("run %s stalled at %s/%s; %s chunk(s) sent again", run.pk, progress, run.total, chunks)
    webhook_events.run_stalled(run, given_up=False, attempts=watch.attempts, chunks=chunks)
    report.stalled.append(run.pk)


def runs_watch(*, now: datetime | None = None) -> WatchReport:
    """One pass over this firm's queued and running runs (see the module docstring)."""
    now = now or timezone.now()
    report = WatchReport(0, [], [], [])
    active = list(RebalanceRun.objects.filter(status__in=_ACTIVE).order_by("pk"))
    for run in active:
        with transaction.atomic():
            _look_at(run, now, report)
    # Runs that stalled and have since completed.
    for watch in (RunWatch.objects.select_related("run").filter(stalled_at__isnull=False, recovered_at__isnull=True,
                                                               run__status=RebalanceRun.Status.COMPLETED)):
        with transaction.atomic():
            watch.recovered_at = watch.run.finished_at or now
            watch.save(update_fields=["recovered_at"])
            audit_record(actor=WATCHER, action="run.recovered", obj=watch.run,
                         after={"done": watch.run.done, "failed": watch.run.failed, "redispatches": watch.redispatches})
            report.recovered.append(watch.run_id)
    # Runs that finished without ever stalling need no watching any more.
    RunWatch.objects.filter(stalled_at__isnull=True).exclude(run__status__in=_ACTIVE).delete()
    return WatchReport(len(active), report.stalled, report.recovered, report.given_up)


def stalled_runs() -> list[RunWatch]:
    """This firm's runs stalled now: found stalled, still queued or running, not moving since."""
    watches = RunWatch.objects.select_related("run").filter(stalled_at__isnull=False, run__status__in=_ACTIVE)
    return [w for w in watches.order_by("run_id") if w.state in ("stalled", "given up")]


def unwatched_runs(*, now: datetime | None = None) -> list[RebalanceRun]:
    """Runs queued or running for longer than three stall deadlines that no watch pass has seen:
    Celery beat, which sends the watch, is not running."""
    cutoff = (now or timezone.now()) - 3 * timedelta(seconds=settings.RUN_STALL_SECONDS)
    return list(RebalanceRun.objects.filter(status__in=_ACTIVE, watch__isnull=True, created_at__lt=cutoff)
                .order_by("pk")[:5])
