"""The provider's audit trail (the public schema's records): onboarding, suspending, renaming firms
and changing their hosts, inviting first admins, the provider's staff and their sign-ins - for every
provider admin and operator, filterable as a firm's audit log is (``audit.py``), and by firm."""

from __future__ import annotations

from django.shortcuts import render

from tenants.audit.actions import Action
from tenants.audit.models import AuditEvent
from tenants.models import Firm

from ..filters import AuditLogFilter
from .audit import _filter_problems, _kind_words, actor_names
from .common import STAFF, paginate, provider_page

PER_PAGE = 50


def _firm_problem(slug: str, firms: dict[str, Firm]) -> str:
    return "" if not slug or slug in firms else f"No firm has the slug “{slug[:40]}”: choose one from the list."


@provider_page(STAFF)
def provider_audit(request):
    get = request.GET
    events = AuditEvent.objects.all()  # the provider's host reads the public schema: its own trail
    firms = {f.slug: f for f in Firm.objects.exclude(schema_name="public").order_by("name")}
    by_pk = {str(f.pk): f for f in firms.values()}
    present = set(events.order_by().values_list("action", flat=True).distinct())
    actions = sorted(((a, Action.words_for(a)) for a in present), key=lambda pair: pair[1])
    problems, not_days = _filter_problems(get, events)
    slug = get.get("firm", "").strip()
    if _firm_problem(slug, firms):
        problems["firm"] = _firm_problem(slug, firms)
    context = {"actions": actions, "firms": list(firms.values()), "problems": problems, "not_days": not_days,
               "chosen_firm": firms.get(slug)}
    if problems:
        return render(request, "frontend/provider_audit.html", {**context, "page": None, "filtered": True}, status=400)
    data = {k: get.get(k, "") for k in ("actor", "action", "since", "until")}
    if slug:  # a firm's records: those whose object is the firm (its onboarding, status, name, hosts, admin)
        data.update(object_type="firm", object_id=str(firms[slug].pk))
    listed = AuditLogFilter(data, queryset=events)
    page = paginate(request, listed.qs.order_by("-at", "-id"), per_page=PER_PAGE)
    people = actor_names(page)
    for e in page:
        e.actor_name = people.get(e.actor, "")
        e.words = Action.words_for(e.action)
        e.kind = "Firm" if e.object_type == "firm" else (_kind_words(e.object_type) if e.object_type else "")
        e.firm_obj = by_pk.get(e.object_id) if e.object_type == "firm" else None
        e.name = e.object_repr or (f"#{e.object_id}" if e.object_id else "")
    return render(request, "frontend/provider_audit.html", {**context, "page": page, "filtered": listed.filtered})
