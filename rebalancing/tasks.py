"""Celery tasks: thin interfaces that take ids, call one service, and own retries.

Every task runs in the schema of the firm it was sent for (tenant-schemas-celery).
"""

import logging

from celery import shared_task
from django.db import connection, transaction
from django.utils import timezone

from rebalancing.models import RebalanceRun, RiskModelEstimate
from rebalancing.selectors import RunScope
from rebalancing.services import backtests
from rebalancing.services.backtests import backtest_execute, backtest_fail
from rebalancing.services.notifications import approvals_digest_send, approvers_notify_run
from rebalancing.services.proposals import proposals_expire_stale
from rebalancing.services.release_batches import release_batch_execute, release_batch_fail
from rebalancing.services.risk_models import (
    risk_model_estimate_execute,
    risk_model_estimate_fail,
    risk_model_refresh_nightly,
)
from rebalancing.services.runs import run_chunks_dispatched, run_process_chunk, run_start
from rebalancing.webhooks.delivery import retry_delay, webhook_delivery_attempt
from rebalancing.webhooks.endpoints import webhook_previous_secrets_forget

__all__ = ["backtest_run", "backtests_watch", "nightly_scan", "proposals_expire", "rebalance_chunk",
           "release_batch_run", "risk_model_estimate_run", "risk_model_refresh", "run_dispatch", "runs_watch", "webhook_deliver",
           "webhook_secrets_expire"]

logger = logging.getLogger(__name__)


@shared_task(bind=True, acks_late=True, max_retries=5, default_retry_delay=10)
def run_dispatch(self, run_id: int) -> int:
    """Split a run into chunks and queue them. Redelivered, it queues them again: chunks are idempotent."""
    run = RebalanceRun.objects.filter(pk=run_id).first()
    if run is None or run.status not in (RebalanceRun.Status.QUEUED, RebalanceRun.Status.RUNNING):
        return 0
    chunks = run_chunks_dispatched(run)
    for account_ids in chunks:
        rebalance_chunk.delay(run_id, account_ids)
    return len(chunks)


@shared_task(bind=True, acks_late=True, max_retries=3, default_retry_delay=15)
def rebalance_chunk(self, run_id: int, account_ids: list[int]) -> dict | None:
    """Solve one chunk (queue "rebalance"). A failure of the chunk itself, e.g. the database
    going away, is retried; an account's own failure is recorded and the chunk goes on."""
    try:
        outcome = run_process_chunk(run_id=run_id, account_ids=account_ids)
    except Exception as exc:
        logger.warning("chunk of run %s failed (%s); retrying", run_id, exc)
        raise self.retry(exc=exc) from exc
    return None if outcome is None else outcome.__dict__


@shared_task(acks_late=True)
def nightly_scan() -> int | None:
    """Sent by beat to every active firm: rebalance every account, proposing only where there is
    drift beyond the band, a harvest opportunity, or another reason to trade."""
    if connection.schema_name == "public":
        raise ValueError("nightly_scan must be sent from inside a firm's schema")
    with transaction.atomic():
        run = run_start(scope=RunScope(firm=True), kind=RebalanceRun.Kind.NIGHTLY, label="nightly scan")
    return run.pk


@shared_task(acks_late=True)
def risk_model_refresh() -> int | None:
    """Sent by beat to every active firm before the nightly scan: estimate the firm's risk model
    from its prices up to today, recorded as an estimate the Risk model page shows. Run twice on the
    same prices it writes no new version. A firm with too little history gets no version (its
    accounts keep the engine's default model, saying so) and a failed estimate naming what is missing."""
    if connection.schema_name == "public":
        raise ValueError("risk_model_refresh must be sent from inside a firm's schema")
    estimate = risk_model_refresh_nightly(as_of=timezone.localdate())
    if estimate.status == RiskModelEstimate.Status.FAILED:
        logger.info("no risk model for %s: %s", connection.schema_name, estimate.error)
    return estimate.version_id


@shared_task(bind=True, acks_late=True, max_retries=3, default_retry_delay=15)
def release_batch_run(self, batch_id: int) -> str | None:
    """Release every proposal of a release batch (the Release page's "Release all", the API). A
    proposal refused (expired, moved on) is recorded with its reason; anything else (the database
    going away) is retried from where the batch stands, and after the last retry it is ended as
    failed, saying so."""
    try:
        batch = release_batch_execute(batch_id=batch_id)
    except Exception as exc:
        if self.request.retries >= self.max_retries:
            logger.error("release batch %s gave up after %s retries: %s", batch_id, self.max_retries, exc)
            release_batch_fail(batch_id=batch_id, message=f"the release stopped unexpectedly, {self.max_retries} "
                                                          "times; what it released stays released: ask again for the rest")
            raise
        logger.warning("release batch %s failed (%s); retrying", batch_id, exc)
        raise self.retry(exc=exc) from exc
    return None if batch is None else batch.status


@shared_task(bind=True, acks_late=True, max_retries=3, default_retry_delay=15)
def risk_model_estimate_run(self, estimate_id: int) -> str | None:
    """Estimate the firm's risk model now, as a person asked (the Risk model page, the API). Too little
    history ends it as failed with the reason; anything else (the database going away) is retried, and
    after the last retry it is ended as failed, saying so, so that the page stops showing it under way."""
    try:
        estimate = risk_model_estimate_execute(estimate_id=estimate_id)
    except Exception as exc:
        if self.request.retries >= self.max_retries:
            # The page shows the message: the exception itself (a database error) goes to the log only.
            logger.error("risk model estimate %s gave up after %s retries: %s", estimate_id, self.max_retries, exc)
            risk_model_estimate_fail(estimate_id=estimate_id,
                                     message=f"the estimate stopped unexpectedly, {self.max_retries} times; try again")
            raise
        logger.warning("risk model estimate %s failed (%s); retrying", estimate_id, exc)
        raise self.retry(exc=exc) from exc
    return None if estimate is None else estimate.status


@shared_task(acks_late=True)
def proposals_expire() -> int:
    """Sent by beat to every active firm: open proposals priced too long ago expire."""
    if connection.schema_name == "public":
        raise ValueError("proposals_expire must be sent from inside a firm's schema")
    return proposals_expire_stale()


@shared_task(acks_late=True)
def runs_watch() -> dict:
    """Sent by beat to every active firm each minute: stalled runs are found and their unfinished
    chunks sent again (rebalancing.services.run_recovery)."""
    from rebalancing.services.run_recovery import runs_watch as watch

    if connection.schema_name == "public":
        raise ValueError("runs_watch must be sent from inside a firm's schema")
    report = watch()
    return {"watched": report.watched, "stalled": report.stalled, "recovered": report.recovered,
            "given_up": report.given_up}


@shared_task(bind=True, acks_late=True, max_retries=3, default_retry_delay=30)
def backtest_run(self, backtest_id: int) -> str | None:
    """Replay a backtest (minutes of work for many cohorts). Bad input or data ends it as failed with
    the reason; anything else (the database going away) is retried from the first cohort, and after
    the last retry it is ended as failed, saying so, so that it stops showing as under way."""
    try:
        backtest = backtest_execute(backtest_id=backtest_id)
    except Exception as exc:
        if self.request.retries >= self.max_retries:
            # The page shows the message: the exception itself goes to the log only.
            logger.error("backtest %s gave up after %s retries: %s", backtest_id, self.max_retries, exc)
            backtest_fail(backtest_id=backtest_id,
                          message=f"the backtest stopped unexpectedly, {self.max_retries + 1} times; try again")
            raise
        logger.warning("backtest %s failed (%s); retrying", backtest_id, exc)
        raise self.retry(exc=exc) from exc
    return None if backtest is None else backtest.status


@shared_task(acks_late=True)
def backtests_watch() -> dict:
    """Sent by beat to every active firm each minute: backtests no worker is replaying are sent
    again, and given up after a few sends (rebalancing.services.backtests.backtests_watch)."""
    if connection.schema_name == "public":
        raise ValueError("backtests_watch must be sent from inside a firm's schema")
    return backtests.backtests_watch()


@shared_task(bind=True, acks_late=True, max_retries=None)
def webhook_deliver(self, delivery_id: int) -> str | None:
    """Send one webhook delivery; after a failure, again with back-off (rebalancing.webhooks.delivery
    counts the attempts and gives up after ``WEBHOOK_MAX_ATTEMPTS``). Run twice, it sends nothing
    twice once the delivery has succeeded or failed for good."""
    delivery = webhook_delivery_attempt(delivery_id=delivery_id)
    if delivery is None:
        return None
    if delivery.status == delivery.Status.RETRYING:
        raise self.retry(countdown=retry_delay(delivery.attempts))
    return delivery.status


@shared_task(acks_late=True)
def webhook_secrets_expire() -> int:
    """Sent by beat to every active firm each night: the secrets rotations replaced, past their grace
    period, are no longer stored (rebalancing.webhooks.endpoints.webhook_previous_secrets_forget)."""
    if connection.schema_name == "public":
        raise ValueError("webhook_secrets_expire must be sent from inside a firm's schema")
    return webhook_previous_secrets_forget()


@shared_task(acks_late=True)
def approvers_notify(run_id: int) -> int:
    """After a run: e-mail approvers what waits for them (rebalancing.services.notifications)."""
    return approvers_notify_run(run_id=run_id)


@shared_task(acks_late=True)
def approvals_digest() -> int:
    """Sent by beat to every active firm each morning: the approvers' daily digest."""
    if connection.schema_name == "public":
        raise ValueError("approvals_digest must be sent from inside a firm's schema")
    return approvals_digest_send()
