"""Assigning a template or a model to every account the accounts page's filter selects (firm admins)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.http import QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse

from frontend.query import a_or_an, id_param
from frontend.selectors import accounts_with_latest
from rebalancing.access import households_visible_to
from rebalancing.models import ModelPortfolio, ParameterTemplate
from rebalancing.services.assignments import KEEP, accounts_assign, households_assign, superseded_words
from tenants.errors import DomainError, ValidationFailed
from tenants.permissions import Capability, user_can
from tenants.roles import FirmRole

from ..filters import AccountListFilter
from .common import firm_page

FILTER_KEYS = ("q", "advisor", "model", "template", "min_drift", "min_cash", "min_loss", "attention")
SHOWN = 25


def _choice(data, name: str, queryset):
    """KEEP (empty), None ("none") or the chosen object; an unknown id is a 400 naming the field."""
    raw = id_param(data, name, words=("none",))
    if raw is None:
        return KEEP
    if raw == "none":
        return None
    found = queryset.filter(pk=raw).first()
    if found is None:
        raise _unknown(name)
    return found


def _unknown(name: str) -> ValidationFailed:
    return ValidationFailed(f"Choose {a_or_an(name.removeprefix('set_'))} from the list.", detail={"field": name})


def _advisors():
    return get_user_model().objects.filter(groups__name=FirmRole.ADVISOR, is_active=True).order_by("first_name",
                                                                                                   "username")


@firm_page(Capability.MANAGE_MODELS)
def accounts_assign_page(request):
    """GET: the selection (the accounts page's filters) and the form; POST: assign, then back to the
    accounts page with the same filters."""
    user = request.user
    source = request.POST if request.method == "POST" else request.GET
    selection = QueryDict(mutable=True)
    for key in FILTER_KEYS:
        if source.get(key):
            selection[key] = source[key]
    listed = AccountListFilter(selection, queryset=accounts_with_latest(user), request=request)
    accounts = listed.qs
    templates, models = ParameterTemplate.objects.order_by("name"), ModelPortfolio.objects.order_by("name")
    if request.method == "POST":
        target = request.POST.get("apply_to", "accounts")
        try:
            template = _choice(request.POST, "set_template", templates)
            if target == "households":
                households = households_visible_to(user).filter(pk__in=accounts.values("household_id"))
                outcome = households_assign(households=households, template=template, by=user,
                                            advisor=_choice(request.POST, "set_advisor", _advisors()))
                what = "household"
            else:
                outcome = accounts_assign(accounts=accounts, template=template,
                                          model=_choice(request.POST, "set_model", models), by=user)
                what = "account"
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            unchanged = outcome.selected - outcome.changed
            messages.success(request, f"Assigned to {outcome.changed} {what}{'s' if outcome.changed != 1 else ''}"
                             + (f"; {unchanged} already had it." if unchanged else ".") + superseded_words(outcome.superseded))
            return redirect(reverse("account_list") + (f"?{selection.urlencode()}" if selection else ""))
    count = accounts.count()
    return render(request, "frontend/accounts_assign.html", {
        # accounts_with_latest has their advisors, governing template and model already (prefetching the
        # advisors again raised on the first look, which the template's |length took for 0).
        "accounts": list(accounts[:SHOWN]), "count": count,
        "households": accounts.order_by().values("household_id").distinct().count(), "selection": selection,
        "filtered": listed.filtered, "templates": templates, "models": models,
        "advisors": _advisors() if user_can(user, Capability.MANAGE_USERS) else [],
        "posted": request.POST if request.method == "POST" else {},
    }, status=400 if request.method == "POST" else 200)
