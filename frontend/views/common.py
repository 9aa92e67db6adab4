"""What every firm page shares: sign-in and host checks, capability checks, pagination, and turning
domain errors into plain messages."""

from __future__ import annotations

from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import connection
from django.http import Http404
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme
from django_tenants.utils import get_public_schema_name

from rebalancing.permissions import Capability, user_can
from tenants.errors import DomainError

PER_PAGE = 25


def firm_page(view):
    """A page of a firm's host for a signed-in firm user (the provider host has its own pages)."""

    @login_required
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if connection.schema_name == get_public_schema_name():
            raise Http404("This page is on a firm's own address.")
        return view(request, *args, **kwargs)

    return wrapped


def need(user, *capabilities: Capability) -> None:
    """Refuse (403) unless the user holds one of the capabilities."""
    if not any(user_can(user, c) for c in capabilities):
        names = " or ".join(c.value.replace("_", " ") for c in capabilities)
        raise PermissionDenied(f"Your role does not allow this ({names}).")


def visible_or_404(queryset, **lookup):
    """One object from a queryset already scoped to the user: someone else's is simply not found."""
    obj = queryset.filter(**lookup).first()
    if obj is None:
        raise Http404("Not found, or not yours to see.")
    return obj


def redirect_back(request, fallback: str, **kwargs):
    """Redirect to the form's ``next`` when it is a path on this host, else to ``fallback`` (a URL
    name). Anything else (``https://evil.example/``, ``//evil.example``, ``javascript:``) is an open
    redirect and is ignored."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target.startswith("/") and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(target)
    return redirect(fallback, **kwargs)


def paginate(request, items, per_page: int = PER_PAGE, param: str = "page"):
    return Paginator(items, per_page).get_page(request.GET.get(param))


def error_message(request, exc: DomainError) -> None:
    messages.error(request, exc.message)


def is_htmx(request) -> bool:
    return request.headers.get("HX-Request") == "true"
