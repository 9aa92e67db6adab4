"""The audit log (firm admins and compliance), filterable, newest first."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.shortcuts import render
from django.utils import timezone

from rebalancing.api.visibility import audit_events_visible_to
from rebalancing.permissions import Capability

from .common import firm_page, paginate


def _day(value: str) -> date | None:
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


@firm_page(Capability.READ_AUDIT)
def audit_log(request):
    get = request.GET
    visible = audit_events_visible_to(request.user)
    qs = visible
    if get.get("actor"):
        qs = qs.filter(actor__icontains=get["actor"].strip())
    if get.get("action"):
        qs = qs.filter(action__startswith=get["action"])
    if get.get("object_type"):
        qs = qs.filter(object_type=get["object_type"])
    if get.get("object_id"):
        qs = qs.filter(object_id=get["object_id"].strip())
    since, until = _day(get.get("since", "")), _day(get.get("until", ""))
    if since:
        qs = qs.filter(at__gte=timezone.make_aware(datetime.combine(since, time.min)))
    if until:
        qs = qs.filter(at__lt=timezone.make_aware(datetime.combine(until + timedelta(days=1), time.min)))
    actions = sorted({a.split(".")[0] for a in visible.values_list("action", flat=True).distinct()})
    kinds = sorted(k for k in visible.values_list("object_type", flat=True).distinct() if k)
    filtered = any(get.get(k) for k in ("actor", "action", "object_type", "object_id", "since", "until"))
    return render(request, "frontend/audit_log.html", {
        "page": paginate(request, qs.order_by("-at", "-id"), per_page=50), "actions": actions, "kinds": kinds,
        "filtered": filtered,
    })
