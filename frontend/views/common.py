"""What every page shares: who may open it (declared once, on the view), host checks, pagination,
and turning domain errors into plain messages.

Every page declares what it needs with one decorator, so that a page which declares nothing is closed
(403) and ``tests/security/test_page_access.py`` names it:

    @firm_page(Capability.VIEW_BOOK, post=Capability.RUN_REBALANCE)   # read with one, POST needs both
    @firm_page((Capability.APPROVE, Capability.APPROVE_COMPLIANCE))     # either of two
    @firm_page(SIGNED_IN)                                               # any signed-in user of the firm
    @provider_page(STAFF, post=ProviderRole.PROVIDER_OPERATOR)          # the provider's host
    @signed_in_page                                                     # anyone signed in, either host
    class SignInView(LoginView): page_access = PUBLIC                   # no sign-in

What a page then shows starts from the same visibility selectors as the API (rebalancing.access,
rebalancing.api.visibility), so an advisor finds a colleague's account, proposal or run "not found".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import connection
from django.http import Http404, QueryDict
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme
from django_tenants.utils import get_public_schema_name

from frontend.selectors import parameter_symbols_unknown
from rebalancing.parameter_labels import setting_label, settings_in_words
from tenants.errors import DomainError
from tenants.permissions import Capability, user_can
from tenants.roles import ProviderRole
from tenants.selectors import user_roles

__all__ = [
    "PUBLIC", "SIGNED_IN", "STAFF", "KeptForm", "PageAccess", "firm_page", "is_htmx", "keep_posted", "need", "page_access_of",
    "paginate", "parameter_errors", "parameter_refusal", "posted_kept", "provider_page", "redirect_back", "signed_in_page", "visible_or_404",
    "warn_unknown_symbols",
]

PER_PAGE = 25
SIGNED_IN = "signed in"  # no capability: the page shows each user what their roles allow
STAFF = tuple(ProviderRole)  # any provider role


@dataclass(frozen=True)
class PageAccess:
    """Who may open a page: ``host`` ("firm", "provider" or "public"), any one of ``needs`` for every
    request, and any one of ``post`` as well for a POST."""

    host: str
    needs: tuple = ()
    post: tuple = ()


PUBLIC = PageAccess("public")
SIGNED_IN_ANY_HOST = PageAccess("any", (SIGNED_IN,))


def _any_of(value) -> tuple:
    if value is None:
        return ()
    return tuple(value) if isinstance(value, tuple | list) else (value,)


def page_access_of(view) -> PageAccess | None:
    """A URL pattern's declaration: on the view function, or on its class (class-based views)."""
    return getattr(view, "page_access", None) or getattr(getattr(view, "view_class", None), "page_access", None)


def need(user, *capabilities: Capability) -> None:
    """Refuse (403) unless the user holds one of the capabilities."""
    if not any(user_can(user, c) for c in capabilities):
        names = " or ".join(c.value.replace("_", " ") for c in capabilities)
        raise PermissionDenied(f"Your role does not allow this ({names}).")


def _undeclared(view):
    raise PermissionDenied(f"The page {view.__module__}.{view.__name__} declares no capability, so it is closed.")


def firm_page(needs=None, *, post=None):
    """A page of a firm's host for a signed-in firm user holding ``needs`` (see the module docstring).
    Used bare (``@firm_page``), it declares nothing and the page refuses everyone."""
    if callable(needs):
        return _firm_view(needs, None)
    access = PageAccess("firm", _any_of(needs), _any_of(post))
    return lambda view: _firm_view(view, access)


def _firm_view(view, access: PageAccess | None):
    @login_required
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if connection.schema_name == get_public_schema_name():
            raise Http404("This page is on a firm's own address.")
        if access is None:
            _undeclared(view)
        if access.needs != (SIGNED_IN,):
            need(request.user, *access.needs)
        if request.method == "POST" and access.post:
            need(request.user, *access.post)
        return view(request, *args, **kwargs)

    wrapped.page_access = access
    return wrapped


def signed_in_page(view):
    """A page for anyone signed in, on a firm's host or the provider's (their own account settings)."""
    wrapped = login_required(view)
    wrapped.page_access = SIGNED_IN_ANY_HOST
    return wrapped


def provider_page(roles=STAFF, *, post=None):
    """A page of the provider's host for provider staff holding one of ``roles`` (a superuser too);
    a POST needs one of ``post`` as well."""
    access = PageAccess("provider", _any_of(roles), _any_of(post))

    def decorate(view):
        @login_required
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if connection.schema_name != get_public_schema_name():
                raise Http404("The provider console is on the provider's own address.")
            held = set(user_roles(request.user, ProviderRole))
            if not request.user.is_superuser:
                if not held & set(access.needs):
                    if held:  # staff, in another role
                        names = " or ".join(r.label.lower() for r in access.needs)
                        raise PermissionDenied(f"Only a {names} may do this.")
                    raise PermissionDenied("The provider console is for provider staff.")
                if request.method == "POST" and access.post and not held & set(access.post):
                    names = " or ".join(r.label.lower() for r in access.post)
                    raise PermissionDenied(f"Only a {names} may do this.")
            return view(request, *args, **kwargs)

        wrapped.page_access = access
        return wrapped

    return decorate


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


def parameter_errors(exc: DomainError) -> dict[str, str]:
    """A parameter form's refusal by the service as its errors: the message above the form
    (``__all__``) and beside the setting it names (``detail["parameter"]``, e.g. ``cash.floor``)."""
    parameter = (exc.detail or {}).get("parameter")
    return {"__all__": exc.message, **({parameter: exc.message} if parameter else {})}


def parameter_refusal(exc: DomainError, shown) -> tuple[str, dict[str, str]]:
    """A parameter form's refusal by the service said once, in the form's words: beside the setting
    it names when the form shows it (``shown``: the form's leaf paths), the message above the form
    then only saying where to look; above the form otherwise. The service's message names each
    setting by its label and its code ("“Restrictions: do not buy” (restrictions.do_not_buy)", for
    the API's callers): the page keeps the label alone."""
    words = settings_in_words(re.sub(r"(“[^”]*”) \(([\w.]+)\)", r"\1", exc.message))
    parameter = (exc.detail or {}).get("parameter")
    if parameter in set(shown):
        return f"Nothing was saved: see “{setting_label(parameter)}” below.", {parameter: words}
    return words, {}


def refusal_text(exc: Exception) -> str:
    """What a refused list edit says: the domain error's message, or a parser's message as a
    sentence (symbols keep their case, which ``str.capitalize`` would lower)."""
    text = getattr(exc, "message", None) or str(exc)
    return text[:1].upper() + text[1:]


_KEPT = "refused_form"  # the session key: one refused form's values, read once


class KeptForm(QueryDict):
    """A refused form's POST as it was typed, with the refusal's message (``refusal``) and the field it
    names (``refused_field``, from the domain error's ``detail["field"]``; "" when it names none), so a
    template says the error next to that field: ``{% if kept.refused_field == "model" %}``."""

    refusal = ""
    refused_field = ""


def keep_posted(request, form: str, refusal: Exception | None = None) -> None:
    """A refused form redirects back to its page (POST/redirect/GET): what was typed is kept for that
    page to fill the form ``form`` again, once, so the person corrects it rather than types it again;
    with ``refusal`` (a domain error, or any error whose text is the message), its message and field too."""
    detail = getattr(refusal, "detail", None) or {}
    request.session[_KEPT] = {"form": form, "values": {
        key: values for key, values in request.POST.lists() if key != "csrfmiddlewaretoken"},
        "refusal": refusal_text(refusal) if refusal is not None else "",
        "field": str(detail.get("field") or "")}


def posted_kept(request, form: str) -> KeptForm:
    """What ``keep_posted`` kept for the form ``form`` (empty otherwise), as the POST it came from
    (``posted.amount`` in a template, ``getlist`` for rows); taken out of the session."""
    kept = request.session.get(_KEPT)
    posted = KeptForm(mutable=True)
    if kept and kept.get("form") == form:
        del request.session[_KEPT]
        for key, values in kept["values"].items():
            posted.setlist(key, values)
        posted.refusal, posted.refused_field = kept.get("refusal", ""), kept.get("field", "")
    return posted


def warn_unknown_symbols(request, values: dict) -> None:
    """After saving parameters: name the symbols the security master does not hold (a typo, or a
    security not imported yet), which screen or restrict nothing until it is."""
    unknown = parameter_symbols_unknown(values)
    if unknown:
        messages.warning(request, f"Not in the security master: {', '.join(unknown)}. Saved as typed, but "
                                  f"{'it applies' if len(unknown) == 1 else 'they apply'} to nothing until imported: "
                                  "check the spelling.")
