"""The firm's restricted list (compliance and firm admins keep it; every other role reads it):
securities no account may buy, or trade at all, with the reason and the days it binds. Every change
goes through rebalancing.services.restricted_list and is audited."""

from __future__ import annotations

from datetime import date

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils import timezone

from config.input_limits import full_date_problem
from frontend.query import id_param
from rebalancing.models import RestrictedSecurity, Security
from rebalancing.services.restricted_list import (
    RESTRICTION_WORDS,
    restricted_add,
    restricted_change,
    restricted_lift,
    superseded_words,
)
from tenants.errors import DomainError, ValidationFailed
from tenants.permissions import Capability, user_can

from .common import firm_page, paginate, refusal_text, visible_or_404


def _day(post, name: str, what: str, *, required: bool) -> date | None:
    text = (post.get(name) or "").strip()
    if not text:
        if required:
            raise ValidationFailed(f"Give the {what} date.", detail={"field": name})
        return None
    # As the API reads a date (config.input_limits): date.fromisoformat alone also takes "20260105"
    # and "2026-W01-1".
    if full_date_problem(text):
        raise ValidationFailed(f"The {what} date {text[:20]!r} is not a date (YYYY-MM-DD).", detail={"field": name})
    return date.fromisoformat(text)


def _post(request) -> str:
    post, by = request.POST, request.user
    action = post.get("action")
    if action == "add":
        entry = restricted_add(symbol=post.get("symbol", ""), restriction=post.get("restriction", ""),
                               reason=post.get("reason", ""), starts_on=_day(post, "starts_on", "from", required=True),
                               until=_day(post, "until", "until", required=False), by=by)
        return (f"{entry.security.symbol} is on the restricted list ({RESTRICTION_WORDS[entry.restriction]})."
                + superseded_words(entry.superseded))
    entry = visible_or_404(RestrictedSecurity.objects.select_related("security"), pk=id_param(post, "entry"))
    if action == "change":
        entry = restricted_change(entry=entry, restriction=post.get("restriction", ""), reason=post.get("reason", ""),
                                  starts_on=_day(post, "starts_on", "from", required=True),
                                  until=_day(post, "until", "until", required=False), by=by)
        return f"The entry for {entry.security.symbol} is saved." + superseded_words(entry.superseded)
    if action == "lift":
        entry = restricted_lift(entry=entry, reason=post.get("lift_reason", ""), by=by)
        return f"{entry.security.symbol} is lifted from the restricted list."
    raise ValidationFailed("Unknown action: add, change or lift an entry.", detail={"field": "action"})


@firm_page(Capability.VIEW_BOOK, post=Capability.MANAGE_RESTRICTED_LIST)
def restricted_page(request):
    status, posted, editing, refusal = 200, None, None, {}
    if request.method == "POST":
        try:
            done = _post(request)
        except DomainError as exc:
            messages.error(request, refusal_text(exc))
            status, posted = 400, request.POST
            # said beside the field it names too (marked aria-invalid), as the other forms do
            refusal = {"field": (exc.detail or {}).get("field", ""), "message": refusal_text(exc)}
            editing = request.POST.get("entry") if request.POST.get("action") in ("change", "lift") else None
        else:
            messages.success(request, done)
            return redirect("restricted")
    today = timezone.localdate()
    entries = RestrictedSecurity.objects.select_related("security", "added_by", "lifted_by")
    current = list(entries.current_or_coming(today).order_by("security__symbol", "starts_on", "pk"))
    # Ended and lifted entries, latest first, a page at a time: the whole history stays readable.
    past = paginate(request, entries.exclude(pk__in=[e.pk for e in current]).order_by("-updated_at", "-pk"),
                    param="past_page")
    for e in current:
        e.in_force = e.starts_on <= today
    return render(request, "frontend/restricted.html", {
        "current": current, "past": past, "today": today, "posted": posted, "editing": editing, "refusal": refusal,
        "can_edit": user_can(request.user, Capability.MANAGE_RESTRICTED_LIST),
        "restrictions": RestrictedSecurity.Restriction.choices,
        "symbols": list(Security.objects.order_by("symbol").values_list("symbol", "name")),
    }, status=status)
