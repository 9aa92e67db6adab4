"""The firm's risk model: estimated from its own prices, kept as versions, refreshed nightly
(``risk_model_refresh_nightly``), or now on request - started here (``risk_model_estimate_start``:
checked, stored, audited, queued) and estimated by a worker (``risk_model_estimate_execute``), one
at a time per firm; each refresh, nightly or asked for, is recorded as an estimate with its outcome.

Direct-indexed sleeves are tracked with the latest version (``engine_inputs``), and the tracking
error proposals report is measured with it. The estimator is the backtest's: Ledoit-Wolf shrinkage
of the trailing ``RISK_LOOKBACK_DAYS`` daily log returns, written as principal-component factors
(``rebalancing.engine.risk_estimation``), so what the backtest measured is what accounts get.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from rebalancing import dispatch
from rebalancing.access import require
from rebalancing.backtest.risk import RISK_LOOKBACK_DAYS
from rebalancing.engine.risk_estimation import MIN_OBSERVATIONS, estimate_risk_model
from rebalancing.models import Price, RiskModelEstimate, RiskModelVersion, Security
from tenants.audit.actions import Action
from tenants.audit.services import audit_record
from tenants.errors import DomainError, ValidationFailed
from tenants.permissions import Capability

__all__ = [
    "ABANDONED_AFTER", "NIGHTLY_ACTOR", "RiskModelEstimateStart", "RiskModelRefresh", "risk_model_estimate",
    "risk_model_estimate_execute", "risk_model_estimate_fail", "risk_model_estimate_start",
    "price_window", "risk_model_refresh_nightly",
]

logger = logging.getLogger(__name__)

NIGHTLY_ACTOR = "nightly risk model refresh"
# An estimate waiting or running this long was lost (its worker died, its message went missing; the
# work itself takes seconds): starting another closes it as failed rather than answering with it for ever.
ABANDONED_AFTER = timedelta(minutes=15)
# Digits kept of each loading and specific variance: far below the estimate's own noise.
_DIGITS = 10


@dataclass(frozen=True)
class RiskModelRefresh:
    version: RiskModelVersion
    created: bool  # False: the prices have not changed since ``version`` was estimated


@dataclass(frozen=True)
class RiskModelEstimateStart:
    estimate: RiskModelEstimate
    started: bool  # False: one was already waiting or running; ``estimate`` is that one


def price_window(as_of: date, window_days: int, *, what: str = "a risk model") -> tuple[list[date], list[str], np.ndarray]:
    """The last ``window_days + 1`` days with prices on or before ``as_of``, and the securities with
    a close on every one of them (symbol order), as a days x securities matrix; refused, naming
    ``what`` needs them, when the firm has too few."""
    dates = list(
        Price.objects.filter(date__lte=as_of).order_by("-date").values_list("date", flat=True).distinct()[
            : window_days + 1]
    )[::-1]
    needed = MIN_OBSERVATIONS + 1
    if len(dates) < needed:
        raise ValidationFailed(
            f"{what} needs prices on at least {needed} days up to {as_of:%Y-%m-%d}; the firm has {len(dates)}",
            code="insufficient_price_history", detail={"days": len(dates), "needed": needed},
        )
    column = {d: i for i, d in enumerate(dates)}
    closes: dict[int, np.ndarray] = {}
    for sid, d, close in Price.objects.filter(date__in=dates).values_list("security_id", "date", "close").iterator():
        closes.setdefault(sid, np.full(len(dates), np.nan))[column[d]] = float(close)
    complete = {sid: row for sid, row in closes.items() if not np.isnan(row).any()}
    if len(complete) < 2:
        raise ValidationFailed(
            f"{what} needs at least 2 securities with a price on each of the {len(dates)} days "
            f"from {dates[0]:%Y-%m-%d} to {dates[-1]:%Y-%m-%d}; {len(complete)} have one",
            code="insufficient_price_history", detail={"days": len(dates), "securities": len(complete)},
        )
    symbol_of = dict(Security.objects.filter(pk__in=complete).values_list("pk", "symbol"))
    order = sorted(complete, key=symbol_of.__getitem__)
    return dates, [symbol_of[sid] for sid in order], np.column_stack([complete[sid] for sid in order])


def _check_window(window_days: int) -> None:
    if not MIN_OBSERVATIONS <= window_days <= 2520:
        raise ValidationFailed(f"the window must be {MIN_OBSERVATIONS} to 2520 trading days, not {window_days}",
                               code="invalid_window", detail={"field": "window_days"})


def _lock_the_firms_risk_model() -> None:
    """Hold the firm's risk model until this transaction ends. Of two estimates at once (a person's and
    the nightly refresh, two workers) the second waits here, then finds the first's version by its
    digest (this statement's snapshot is taken after the wait) instead of writing a twin, which the
    unique digest would refuse with an error. Keyed by schema: firms never wait for each other."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                       [f"{connection.schema_name}:risk_model"])


@transaction.atomic
def risk_model_estimate(*, as_of: date, user=None, window_days: int = RISK_LOOKBACK_DAYS) -> RiskModelRefresh:
    """Estimate the firm's risk model from its prices up to ``as_of`` and keep it as a new version.

    ``user`` None is the nightly refresh. The same prices estimated again give the existing
    version back (nothing written). Too little history is a ``ValidationFailed`` naming what is
    missing; accounts then keep the engine's default model (``selectors.risk_model_current``)."""
    if user is not None:
        require(user, Capability.RUN_REBALANCE)
    _check_window(window_days)
    method = RiskModelVersion.Method.LEDOIT_WOLF
    dates, symbols, prices = price_window(as_of, window_days)
    digest = hashlib.sha256(
        json.dumps([method, window_days, [d.isoformat() for d in dates], symbols]).encode() + prices.tobytes()
    ).hexdigest()
    _lock_the_firms_risk_model()
    existing = RiskModelVersion.objects.filter(inputs_digest=digest).first()
    if existing is not None:
        return RiskModelRefresh(existing, created=False)
    model = estimate_risk_model(prices, symbols)
    version = RiskModelVersion(
        as_of=dates[-1], window_days=window_days, observations=len(dates) - 1, method=method,
        factor_count=len(model.factors), symbols=symbols,
        estimate={
            "loadings": [[round(x, _DIGITS) for x in model.loadings[s]] for s in symbols],
            "specific": [round(model.specific_variance[s], _DIGITS) for s in symbols],
        },
        inputs_digest=digest, created_by=user,
    )
    version.full_clean()
    version.save()
    audit_record(actor=user or NIGHTLY_ACTOR, action=Action.RISK_MODEL_ESTIMATE, obj=version, after={
        "as_of": version.as_of.isoformat(), "observations": version.observations, "method": method.value,
        "securities": len(symbols), "factors": version.factor_count,
    })
    return RiskModelRefresh(version, created=True)


@transaction.atomic
def risk_model_estimate_start(*, user, as_of: date, window_days: int = RISK_LOOKBACK_DAYS) -> RiskModelEstimateStart:
    """Queue an estimate of the firm's risk model from its prices up to ``as_of`` for a worker, once
    this transaction commits. While one is waiting or running the answer is that one: nothing is
    written and nothing queued (``started`` False)."""
    require(user, Capability.RUN_REBALANCE)
    _check_window(window_days)
    start = _estimate_open(as_of=as_of, window_days=window_days, user=user, origin=RiskModelEstimate.Origin.REQUEST)
    if start.started:
        estimate = start.estimate
        audit_record(actor=user, action=Action.RISK_MODEL_ESTIMATE_START, obj=estimate, after={
            "as_of": as_of.isoformat(), "window_days": window_days,
        })
        # The schema is read when the message is sent: on_commit runs in this firm's context.
        transaction.on_commit(lambda: dispatch.send(dispatch.RISK_MODEL_ESTIMATE, estimate.pk))
    return start


def risk_model_refresh_nightly(*, as_of: date, window_days: int = RISK_LOOKBACK_DAYS) -> RiskModelEstimate:
    """The nightly refresh (beat's task, in the worker): recorded as an estimate like a person's, so
    the Risk model page and the API show how last night's went - a new version, the same one, or why
    there is none. An estimate already under way (a person's) is the night's answer: the same prices
    would give the same version."""
    with transaction.atomic():
        start = _estimate_open(as_of=as_of, window_days=window_days, user=None,
                               origin=RiskModelEstimate.Origin.NIGHTLY)
    if not start.started:
        return start.estimate
    # Committed first, so that the page shows it running while it runs.
    try:
        return risk_model_estimate_execute(estimate_id=start.estimate.pk)
    except Exception:
        # Nobody retries the night's refresh: say so on the page rather than show it running.
        _finish_failed(start.estimate.pk, "the nightly refresh stopped unexpectedly; the next night tries again, "
                                          "or Refresh now", code="failed")
        raise


def _estimate_open(*, as_of: date, window_days: int, user, origin: str) -> RiskModelEstimateStart:
    """Store a new estimate, or answer with the one under way (one at a time per firm; one that has
    waited past ``ABANDONED_AFTER`` is closed as failed first)."""
    under_way = RiskModelEstimate.objects.select_for_update().filter(status__in=RiskModelEstimate.UNDER_WAY).first()
    if under_way is not None:
        if under_way.created_at > timezone.now() - ABANDONED_AFTER:
            return RiskModelEstimateStart(under_way, started=False)
        _finish_failed(under_way.pk, f"no worker finished it within {ABANDONED_AFTER.seconds // 60} minutes; "
                                     "a new estimate was started", code="abandoned")
    estimate = RiskModelEstimate(as_of=as_of, window_days=window_days, created_by=user, origin=origin)
    # The one-under-way constraint is the database's to check: a twin request may be writing right now.
    estimate.full_clean(validate_constraints=False)
    try:
        with transaction.atomic():
            estimate.save()
    except IntegrityError:
        # A twin started one between the look above and this write (the unique index waited for its
        # commit): answer with it.
        twin = RiskModelEstimate.objects.get(status__in=RiskModelEstimate.UNDER_WAY)
        return RiskModelEstimateStart(twin, started=False)
    return RiskModelEstimateStart(estimate, started=True)


def risk_model_estimate_execute(*, estimate_id: int) -> RiskModelEstimate | None:
    """Estimate what was asked for (the worker's side) and record the outcome: a new version, the
    existing one (the same prices), or the error naming the problem. Idempotent: a finished estimate is
    left alone; redelivered mid-way it runs again, and the same prices give the same version."""
    under_way = RiskModelEstimate.objects.filter(pk=estimate_id, status__in=RiskModelEstimate.UNDER_WAY)
    if not under_way.update(status=RiskModelEstimate.Status.RUNNING, started_at=timezone.now()):
        return None
    estimate = RiskModelEstimate.objects.select_related("created_by").get(pk=estimate_id)
    try:
        # The version and the outcome commit together: a worker lost between them leaves neither.
        with transaction.atomic():
            refresh = risk_model_estimate(as_of=estimate.as_of, user=estimate.created_by,
                                          window_days=estimate.window_days)
            RiskModelEstimate.objects.filter(pk=estimate_id).update(
                status=RiskModelEstimate.Status.COMPLETED, version=refresh.version, finished_at=timezone.now(),
                outcome=RiskModelEstimate.Outcome.NEW if refresh.created else RiskModelEstimate.Outcome.UNCHANGED,
            )
    except DomainError as exc:
        logger.info("risk model estimate %s failed: %s", estimate_id, exc.message)
        _finish_failed(estimate_id, exc.message, code=exc.code)
    return RiskModelEstimate.objects.select_related("created_by", "version").get(pk=estimate_id)


def risk_model_estimate_fail(*, estimate_id: int, message: str) -> None:
    """End an estimate the worker could not finish (after its retries), saying why."""
    _finish_failed(estimate_id, message, code="failed")


def _finish_failed(estimate_id: int, message: str, *, code: str) -> None:
    RiskModelEstimate.objects.filter(pk=estimate_id, status__in=RiskModelEstimate.UNDER_WAY).update(
        status=RiskModelEstimate.Status.FAILED, error=message[:2000], error_code=code[:64], finished_at=timezone.now(),
    )
