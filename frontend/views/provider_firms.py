"""A client firm's own page on the provider console: its hosts and status, its size over time, its
runs of the last 30 days, its API keys and its first admin; where provider admins rename it, give or
take a host and send its first admin a new invitation. Everything a provider admin changes here is
a service of ``tenants.services``, which records it in the provider's audit trail and the firm's."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.db.models import Count, Max, Q
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST
from django_tenants.utils import schema_context

from frontend.selectors import provider_staff_names, run_started_by_words
from rebalancing.engine_inputs import latest_book_day
from rebalancing.firm_health import QUEUED_TOO_LONG, firm_health
from rebalancing.models import Account, Household, RebalanceRun, RunOutcome
from tenants.api_keys.models import ApiKey
from tenants.errors import DomainError
from tenants.models import Firm, FirmUsage
from tenants.people import people_active, people_here
from tenants.roles import FirmRole, ProviderRole
from tenants.selectors import user_roles
from tenants.services import (
    firm_host_add,
    firm_host_primary_set,
    firm_host_remove,
    firm_rename,
    first_admin,
    first_admin_email_change,
    first_admin_invite,
)

from .common import STAFF, keep_posted, posted_kept, provider_page
from .provider import _firm, _may_run
from .runs import describe_scope

RUN_DAYS = 30  # the runs the page lists: those started in the last RUN_DAYS days
RUNS_SHOWN = 100
USAGE_SHOWN = 60  # usage snapshots, newest first (one a night, and one at onboarding)


def _may_admin(request) -> bool:
    return request.user.is_superuser or ProviderRole.PROVIDER_ADMIN in user_roles(request.user, ProviderRole)


def _usage_chart(usage: list[FirmUsage]) -> dict | None:
    """People and active people at each count, oldest first (charts.js reads it); None below two counts."""
    if len(usage) < 2:
        return None
    points = list(reversed(usage))
    return {"kind": "line", "labels": [u.taken_at.strftime("%Y-%m-%d") for u in points],
            "series": [{"label": "People", "data": [u.users for u in points]},
                       {"label": "Active (may sign in, password chosen)", "data": [u.active_users for u in points]}]}


def _runs(firm: Firm) -> tuple[list[RebalanceRun], int]:
    """The firm's runs of the last ``RUN_DAYS`` days, newest first, each with its outcomes by kind;
    read in the firm's schema."""
    since = timezone.now() - timedelta(days=RUN_DAYS)
    recent = RebalanceRun.objects.filter(created_at__gte=since)
    runs = list(recent.select_related("started_by").order_by("-created_at", "-id")[:RUNS_SHOWN])
    counts = {}
    for run_id, outcome, n in (RunOutcome.objects.filter(run__in=runs).values_list("run_id", "outcome")
                               .annotate(n=Count("id")).order_by()):
        counts.setdefault(run_id, {})[outcome] = n
    staff = provider_staff_names()
    queued_since = timezone.now() - QUEUED_TOO_LONG
    for run in runs:
        run.by_outcome = counts.get(run.pk, {})
        run.started_by_words = run_started_by_words(run, staff)
        run.scope_text = describe_scope(run.scope)
        run.queued_long = run.status == RebalanceRun.Status.QUEUED and run.created_at < queued_since
    return runs, recent.count()


@provider_page(STAFF)
def provider_firm(request, slug: str):
    firm = _firm(slug)
    health = firm_health(firm)
    usage = list(FirmUsage.objects.filter(firm=firm).order_by("-taken_at", "-id")[:USAGE_SHOWN])
    admin = first_admin(firm)
    with schema_context(firm.schema_name):
        people, active = people_here(), people_active()  # active: as the console's count
        now = {"people": people.count(), "active": active.count(), "accounts": Account.objects.count(),
               "households": Household.objects.count(),
               "invited": people.filter(is_active=True).exclude(pk__in=active.values("pk")).count(),
               "roles": [(role.label, active.filter(groups__name=role.value).count()) for role in FirmRole]}
        runs, runs_count = _runs(firm)
        live = Q(revoked_at__isnull=True) & (Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now()))
        keys = ApiKey.objects.aggregate(live=Count("id", filter=live), all=Count("id"), last_used=Max("last_used_at"))
    admin_state = None
    if admin is not None:
        admin_state = ("deactivated" if not admin.is_active
                       else "active" if admin.has_usable_password() else "invited")
    return render(request, "frontend/provider_firm.html", {
        "f": firm, "health": health, "hosts": list(firm.domains.order_by("-is_primary", "domain")),
        "usage": usage, "usage_chart": _usage_chart(usage), "now": now, "runs": runs, "runs_count": runs_count,
        "run_days": RUN_DAYS, "runs_shown": RUNS_SHOWN, "keys": keys, "admin": admin, "admin_state": admin_state,
        "may_admin": _may_admin(request), "may_run": _may_run(request) and firm.status == Firm.Status.ACTIVE,
        "latest_day": latest_book_day(), "queued_minutes": int(QUEUED_TOO_LONG.total_seconds() // 60),
        "renamed": posted_kept(request, f"firm_name:{slug}"), "host_posted": posted_kept(request, f"firm_host:{slug}"),
        "admin_posted": posted_kept(request, f"first_admin:{slug}"),
    })


@provider_page(ProviderRole.PROVIDER_ADMIN)
@require_POST
def provider_firm_rename(request, slug: str):
    firm = _firm(slug)
    before = firm.name
    try:
        changed = firm_rename(firm=firm, name=request.POST.get("name", ""), actor=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
        keep_posted(request, f"firm_name:{slug}", exc)
        return redirect("provider_firm", slug=slug)
    firm.refresh_from_db()
    if changed:
        messages.success(request, f"{before} is now called {firm.name}; its slug, schema and hosts are unchanged.")
    else:
        messages.info(request, f"{firm.name} already has that name; nothing changed.")
    return redirect("provider_firm", slug=slug)


HOST_DOINGS = ("add", "remove", "primary")


@provider_page(ProviderRole.PROVIDER_ADMIN)
@require_POST
def provider_firm_hosts(request, slug: str):
    """Give the firm one more host, take one away, or make one its main host."""
    firm = _firm(slug)
    doing, domain = request.POST.get("do", ""), request.POST.get("domain", "").strip()
    if doing not in HOST_DOINGS:
        messages.error(request, f"A host is added, removed or made the main one, not “{doing[:20]}”.")
        return redirect("provider_firm", slug=slug)
    try:
        if doing == "add":
            added = firm_host_add(firm=firm, domain=domain, actor=request.user)
            messages.success(request, f"{firm.name} is now also served at {added.domain}; {firm.primary_domain} "
                                      "stays its main host.")
        elif doing == "remove":
            firm_host_remove(firm=firm, domain=domain, actor=request.user)
            messages.success(request, f"{firm.name} is no longer served at {domain.lower()}; anyone signed in there "
                                      f"signs in again at {firm.primary_domain}.")
        elif firm_host_primary_set(firm=firm, domain=domain, actor=request.user):
            messages.success(request, f"{domain.lower()} is now {firm.name}'s main host: new e-mailed links use it.")
        else:
            messages.info(request, f"{domain.lower()} is already {firm.name}'s main host; nothing changed.")
    except DomainError as exc:
        messages.error(request, exc.message)
        if doing == "add":
            keep_posted(request, f"firm_host:{slug}", exc)
    return redirect("provider_firm", slug=slug)


@provider_page(ProviderRole.PROVIDER_ADMIN)
@require_POST
def provider_firm_invite(request, slug: str):
    """Send the firm's first admin, who has not chosen a password yet, a new link to choose one; with
    an ``email``, first correct the address they were onboarded with (a typo), and send it there."""
    firm = _firm(slug)
    try:
        corrected = "email" in request.POST and first_admin_email_change(
            firm=firm, email=request.POST["email"], actor=request.user)
        firm.refresh_from_db()
        name = first_admin_invite(firm=firm, actor=request.user, again=True)
    except DomainError as exc:
        messages.error(request, exc.message)
        if "email" in request.POST:
            keep_posted(request, f"first_admin:{slug}", exc)
    else:
        if corrected:
            messages.success(request, f"{firm.name}'s first admin is now {name}, and has been e-mailed a link to "
                                      f"choose a password, on {firm.primary_domain}. Links sent to the old address "
                                      "no longer work.")
        else:
            messages.success(request, f"{name} has been e-mailed a new link to choose a password, on "
                                      f"{firm.primary_domain}. Earlier links work until one is used.")
    return redirect("provider_firm", slug=slug)
