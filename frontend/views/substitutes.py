"""The firm's harvest substitutes (what every account buys while a harvested security is
wash-blocked), one pair a line."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils import timezone

from frontend.parameter_forms import parse_substitutes
from rebalancing.selectors import firm_harvest_substitutes
from rebalancing.services.substitutes import MIN_CORRELATION, harvest_substitutes_set, substitute_suggestions
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
    suggestions = substitute_suggestions(as_of=timezone.localdate()) if request.GET.get("suggest") else None
    return render(request, "frontend/substitutes.html", {
        "pairs": pairs, "text": text if text is not None else _lines(pairs),
        "suggestions": suggestions, "min_correlation": MIN_CORRELATION,
        **(_suggested_texts(pairs, suggestions) if suggestions else {}),
    }, status=status)


def _lines(pairs: dict[str, str]) -> str:
    return "\n".join(f"{a} = {b}" for a, b in sorted(pairs.items()))


def _suggested_texts(pairs: dict[str, str], suggestions) -> dict[str, str]:
    """The list with the suggestions added where a security has no substitute, and with every one."""
    suggested = {r.symbol: r.suggested for r in suggestions.rows if r.suggested}
    return {"text_added": _lines({**suggested, **pairs}), "text_all": _lines({**pairs, **suggested}),
            "added": sum(1 for s in suggested if s not in pairs),
            "replaced": sum(1 for s, sub in suggested.items() if s in pairs and pairs[s] != sub)}

