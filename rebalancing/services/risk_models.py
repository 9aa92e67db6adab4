"""The firm's risk model: estimated from its own prices, kept as versions, refreshed nightly.

Direct-indexed sleeves are tracked with the latest version (``engine_inputs``), and the tracking
error proposals report is measured with it. The estimator is the backtest's: Ledoit-Wolf shrinkage
of the trailing ``RISK_LOOKBACK_DAYS`` daily log returns, written as principal-component factors
(``rebalancing.engine.risk_estimation``), so what the backtest measured is what accounts get.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date

import numpy as np
from django.db import transaction

from rebalancing.access import require
from rebalancing.backtest.risk import RISK_LOOKBACK_DAYS
from rebalancing.engine.risk_estimation import MIN_OBSERVATIONS, estimate_risk_model
from rebalancing.models import Price, RiskModelVersion, Security
from tenants.audit.actions import Action
from tenants.audit.services import audit_record
from tenants.errors import ValidationFailed
from tenants.permissions import Capability

__all__ = ["NIGHTLY_ACTOR", "RiskModelRefresh", "risk_model_estimate"]

NIGHTLY_ACTOR = "nightly risk model refresh"
# Digits kept of each loading and specific variance: far below the estimate's own noise.
_DIGITS = 10


@dataclass(frozen=True)
class RiskModelRefresh:
    version: RiskModelVersion
    created: bool  # False: the prices have not changed since ``version`` was estimated


def _price_window(as_of: date, window_days: int) -> tuple[list[date], list[str], np.ndarray]:
    """The last ``window_days + 1`` days with prices on or before ``as_of``, and the securities with
    a close on every one of them (symbol order), as a days x securities matrix."""
    dates = list(
        Price.objects.filter(date__lte=as_of).order_by("-date").values_list("date", flat=True).distinct()[
            : window_days + 1]
    )[::-1]
    needed = MIN_OBSERVATIONS + 1
    if len(dates) < needed:
        raise ValidationFailed(
            f"a risk model needs prices on at least {needed} days up to {as_of:%Y-%m-%d}; the firm has {len(dates)}",
            code="insufficient_price_history", detail={"days": len(dates), "needed": needed},
        )
    column = {d: i for i, d in enumerate(dates)}
    closes: dict[int, np.ndarray] = {}
    for sid, d, close in Price.objects.filter(date__in=dates).values_list("security_id", "date", "close").iterator():
        closes.setdefault(sid, np.full(len(dates), np.nan))[column[d]] = float(close)
    complete = {sid: row for sid, row in closes.items() if not np.isnan(row).any()}
    if len(complete) < 2:
        raise ValidationFailed(
            f"a risk model needs at least 2 securities with a price on each of the {len(dates)} days "
            f"from {dates[0]:%Y-%m-%d} to {dates[-1]:%Y-%m-%d}; {len(complete)} have one",
            code="insufficient_price_history", detail={"days": len(dates), "securities": len(complete)},
        )
    symbol_of = dict(Security.objects.filter(pk__in=complete).values_list("pk", "symbol"))
    order = sorted(complete, key=symbol_of.__getitem__)
    return dates, [symbol_of[sid] for sid in order], np.column_stack([complete[sid] for sid in order])


@transaction.atomic
def risk_model_estimate(*, as_of: date, user=None, window_days: int = RISK_LOOKBACK_DAYS) -> RiskModelRefresh:
    """Estimate the firm's risk model from its prices up to ``as_of`` and keep it as a new version.

    ``user`` None is the nightly refresh. The same prices estimated again give the existing
    version back (nothing written). Too little history is a ``ValidationFailed`` naming what is
    missing; accounts then keep the engine's default model (``selectors.risk_model_current``)."""
    if user is not None:
        require(user, Capability.RUN_REBALANCE)
    if not MIN_OBSERVATIONS <= window_days <= 2520:
        raise ValidationFailed(f"the window must be {MIN_OBSERVATIONS} to 2520 trading days, not {window_days}",
                               code="invalid_window")
    method = RiskModelVersion.Method.LEDOIT_WOLF
    dates, symbols, prices = _price_window(as_of, window_days)
    digest = hashlib.sha256(
        json.dumps([method, window_days, [d.isoformat() for d in dates], symbols]).encode() + prices.tobytes()
    ).hexdigest()
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
