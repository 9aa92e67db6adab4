"""The firm's harvest substitutes (what every account buys while a harvested security is
wash-blocked), one pair a line."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render

from frontend.parameter_forms import parse_substitutes
from rebalancing.selectors import firm_harvest_substitutes
from rebalancing.services.substitutes import harvest_substitutes_set
from tenants.errors import DomainError
from tenants.permissions import Capability

from .common import firm_page, refusal_text


@firm_page(Capability.VIEW_BOOK, post=Capability.MANAGE_MODELS)
def substitutes_page(request):
    status, text = 200, None
    if request.method == "POST":
        text = request.POST.get("pairs", "")
        try:
            changed = harvest_substitutes_set(pairs=parse_substitutes(text), by=request.user)
        except (DomainError, ValueError) as exc:
            messages.error(request, refusal_text(exc))
            status = 400
        else:
            messages.success(request, f"Saved: {changed} securit{'y' if changed == 1 else 'ies'} changed substitute.")
            return redirect("substitutes")
    pairs = firm_harvest_substitutes()
    return render(request, "frontend/substitutes.html", {
        "pairs": pairs, "text": text if text is not None else "\n".join(f"{a} = {b}" for a, b in pairs.items()),
    }, status=status)

