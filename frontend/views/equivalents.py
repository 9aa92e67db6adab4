"""The firm's substantially identical securities (wash-sale groups every account uses), one group a line."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render

from frontend.parameter_forms import parse_group_lines
from rebalancing.services.equivalents import (
    equivalence_groups,
    equivalence_groups_set,
    equivalence_labels_alone,
)
from tenants.errors import DomainError
from tenants.permissions import Capability

from .common import firm_page, refusal_text


def _saved_words(changed: int, alone: list[str]) -> str:
    said = (f"Saved: {changed} securit{'y' if changed == 1 else 'ies'} changed group." if changed
            else "Saved: nothing changed.")
    if alone:
        said += (f" A line of one symbol means no group: {', '.join(alone)} "
                 f"{'is' if len(alone) == 1 else 'are'} now in none.")
    return said


@firm_page(Capability.VIEW_BOOK, post=Capability.MANAGE_MODELS)
def equivalents_page(request):
    status, text = 200, None
    if request.method == "POST":
        text = request.POST.get("groups", "")
        try:
            typed = parse_group_lines(text, alone=True)
            changed = equivalence_groups_set(groups=[g for _, g in typed], lines=[n for n, _ in typed],
                                             by=request.user)
        except (DomainError, ValueError) as exc:
            messages.error(request, refusal_text(exc))
            status = 400
        else:
            messages.success(request, _saved_words(changed, [g[0] for _, g in typed if len(g) == 1]))
            return redirect("equivalents")
    groups = equivalence_groups()
    return render(request, "frontend/equivalents.html", {
        "groups": groups, "alone": equivalence_labels_alone(),
        "text": text if text is not None else "\n".join(", ".join(g) for g in groups),
    }, status=status)
