"""The firm's substantially identical securities (wash-sale groups every account uses), one group a line."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render

from frontend.parameter_forms import parse_groups
from rebalancing.services.equivalents import equivalence_groups, equivalence_groups_set
from tenants.errors import DomainError
from tenants.permissions import Capability

from .common import firm_page, refusal_text


@firm_page(Capability.VIEW_BOOK, post=Capability.MANAGE_MODELS)
def equivalents_page(request):
    status, text = 200, None
    if request.method == "POST":
        text = request.POST.get("groups", "")
        try:
            changed = equivalence_groups_set(groups=parse_groups(text), by=request.user)
        except (DomainError, ValueError) as exc:
            messages.error(request, refusal_text(exc))
            status = 400
        else:
            messages.success(request, f"Saved: {changed} securit{'y' if changed == 1 else 'ies'} changed group.")
            return redirect("equivalents")
    groups = equivalence_groups()
    return render(request, "frontend/equivalents.html", {
        "groups": groups, "text": text if text is not None else "\n".join(", ".join(g) for g in groups),
    }, status=status)

