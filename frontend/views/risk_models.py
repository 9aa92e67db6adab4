"""The firm's risk model: the versions estimated from its prices (nightly, or now on request by a
worker), the estimate under way or its outcome, the recent estimates (a night whose refresh failed
says why), which version runs use, and how risky each covered security is under it."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils import timezone

from rebalancing.api.visibility import risk_model_estimates_visible_to, risk_models_visible_to
from rebalancing.selectors import RISK_MODEL_STALE_DAYS, risk_model_current
from rebalancing.services.risk_models import NIGHTLY_ACTOR, risk_model_estimate_start
from tenants.errors import DomainError
from tenants.permissions import Capability

from .common import firm_page, is_htmx, paginate

ESTIMATE_PARTIAL = "frontend/partials/risk_model_estimate.html"
# Enough to see the last week of nightly refreshes beside the ones people asked for.
RECENT_ESTIMATES = 10


@firm_page(Capability.VIEW_RISK_MODEL, post=Capability.RUN_REBALANCE)
def risk_models(request):
    if request.method == "POST":
        try:
            start = risk_model_estimate_start(user=request.user, as_of=timezone.localdate())
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            if not start.started:
                messages.info(request, "An estimate is already under way; its outcome shows here when it is done.")
        return redirect("risk_models")
    estimates = risk_model_estimates_visible_to(request.user).select_related("created_by", "version")
    estimate = estimates.first()
    if is_htmx(request):  # the poll of an estimate under way
        response = render(request, ESTIMATE_PARTIAL, {"estimate": estimate})
        if estimate is None or not estimate.under_way:
            response["HX-Refresh"] = "true"  # done: the whole page again, with the new version listed
        return response
    current, note = risk_model_current(timezone.localdate())
    page = paginate(request, risk_models_visible_to(request.user).select_related("created_by").defer("estimate"))
    risks = current.volatilities() if current is not None else []
    return render(request, "frontend/risk_models.html", {
        "page": page, "current": current, "note": note, "risks": risks, "nightly": NIGHTLY_ACTOR,
        "stale_days": RISK_MODEL_STALE_DAYS, "estimate": estimate, "recent": estimates[:RECENT_ESTIMATES],
    })
