"""The firm's risk model: the versions estimated from its prices (nightly, or now on request),
which one runs use, and how risky each covered security is under it."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils import timezone

from rebalancing.api.visibility import risk_models_visible_to
from rebalancing.selectors import RISK_MODEL_STALE_DAYS, risk_model_current
from rebalancing.services.risk_models import NIGHTLY_ACTOR, risk_model_estimate
from tenants.errors import DomainError
from tenants.permissions import Capability

from .common import firm_page, paginate


@firm_page(Capability.RUN_REBALANCE)
def risk_models(request):
    if request.method == "POST":
        try:
            refresh = risk_model_estimate(as_of=timezone.localdate(), user=request.user)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            v = refresh.version
            if refresh.created:
                messages.success(request, f"Risk model {v.label} estimated; runs from now on track with it.")
            else:
                messages.success(request, f"The prices have not changed since risk model #{v.pk}: it stays current.")
        return redirect("risk_models")
    current, note = risk_model_current(timezone.localdate())
    page = paginate(request, risk_models_visible_to(request.user).select_related("created_by").defer("estimate"))
    risks = current.volatilities() if current is not None else []
    return render(request, "frontend/risk_models.html", {
        "page": page, "current": current, "note": note, "risks": risks, "nightly": NIGHTLY_ACTOR,
        "stale_days": RISK_MODEL_STALE_DAYS,
    })
