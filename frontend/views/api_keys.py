"""API keys in the browser: create one with scopes (the token is shown once, on the page that
creates it), see when each was last used, revoke it. Everyone manages their own keys; firm admins
manage everyone's (tenants.api_keys.services decides). A key a firm admin creates for someone else
shows its token to nobody but its owner, who collects it here, once."""

from __future__ import annotations

from datetime import datetime, time

from django.contrib import messages
from django.core.exceptions import BadRequest
from django.shortcuts import redirect, render
from django.utils import timezone

from frontend.query import date_param, id_param
from rebalancing.access import api_keys_visible_to
from tenants.api_keys.scopes import Scope, scopes_of
from tenants.api_keys.services import api_key_collect, api_key_create, api_key_revoke
from tenants.errors import DomainError
from tenants.people import people_here
from tenants.permissions import Capability, user_can

from .common import SIGNED_IN, firm_page, need, visible_or_404

SCOPE_WORDS = {
    Scope.READ: "read the book, proposals, runs and reports",
    Scope.IMPORT: "import CSV files",
    Scope.RUN: "start and cancel rebalance runs",
    Scope.APPROVE: "approve, reject and release proposals",
    Scope.PARAMETERS: "change account and household parameters",
    Scope.ADMIN: "change models, parameter templates and the restricted list",
}


_ISSUED = "api_key_issued"


@firm_page(SIGNED_IN)
def api_keys_page(request):
    user = request.user
    manages = user_can(user, Capability.MANAGE_USERS)
    status = 200
    shown_once = request.session.pop(_ISSUED, None) if request.method == "GET" else None
    issued = None
    if shown_once:
        key = api_keys_visible_to(user).select_related("user", "created_by").filter(pk=shown_once["key"]).first()
        issued = {"key": key, "token": shown_once["token"]} if key else None
    if request.method == "POST":
        try:
            if request.POST.get("action") == "revoke":
                key = visible_or_404(api_keys_visible_to(user), pk=id_param(request.POST, "key"))
                api_key_revoke(key=key, by=user)
                messages.success(request, f"The key rk_{key.prefix} no longer works.")
                return redirect("api_keys")
            if request.POST.get("action") == "collect":
                key = visible_or_404(api_keys_visible_to(user), pk=id_param(request.POST, "key"))
                collected = api_key_collect(key=key, by=user)
                request.session[_ISSUED] = {"key": collected.key.pk, "token": collected.token}
                return redirect("api_keys")
            owner = user
            owner_id = id_param(request.POST, "owner")
            if owner_id is not None and owner_id != user.pk:
                # As the API: a key for someone else is refused outright (before the lookup, so no
                # probing for user ids), not quietly issued to the one who asked.
                need(user, Capability.MANAGE_USERS)
                owner = visible_or_404(people_here().filter(is_active=True), pk=owner_id)
            expires_on = date_param(request.POST, "expires_on")
            expires_at = (timezone.make_aware(datetime.combine(expires_on, time.min)) if expires_on else None)
            created = api_key_create(user=owner, name=request.POST.get("name", ""),
                                     scopes=request.POST.getlist("scope"), expires_at=expires_at, by=user)
            if created.token is None:  # someone else's key: its token is theirs to collect
                messages.success(request, f"The key “{created.key.name}” (rk_{created.key.prefix}_…) was created for "
                                 f"{owner.get_username()}. Its token is not shown to you: a key acts as its owner, "
                                 "so only they see it, once, when they collect it on their API keys page.")
                return redirect("api_keys")
            # Shown on the next page only (post/redirect/get: a reload neither resubmits nor shows it again).
            request.session[_ISSUED] = {"key": created.key.pk, "token": created.token}
            return redirect("api_keys")
        except (DomainError, BadRequest) as exc:
            messages.error(request, getattr(exc, "message", None) or str(exc))
            status = 400
    people = people_here().filter(is_active=True).order_by("username") if manages else []
    return render(request, "frontend/api_keys.html", {
        "keys": api_keys_visible_to(user).select_related("user", "created_by").order_by("revoked_at", "-created_at")[:200], "issued": issued,
        "scopes": [(s.value, SCOPE_WORDS[s], s in scopes_of(user)) for s in Scope], "people": people,
        "manages": manages, "now": timezone.now(),
        "posted": request.POST if status != 200 else {}, "posted_scopes": request.POST.getlist("scope"),
    }, status=status)
