"""The audit log (firm admins and compliance), filterable, newest first."""

from __future__ import annotations

from django.shortcuts import render

from rebalancing.api.visibility import audit_events_visible_to
from tenants.permissions import Capability

from ..filters import AuditLogFilter
from .common import firm_page, paginate


@firm_page(Capability.READ_AUDIT)
def audit_log(request):
    get = request.GET
    visible = audit_events_visible_to(request.user)
    listed = AuditLogFilter(get, queryset=visible)
    qs = listed.qs
    actions = sorted({a.split(".")[0] for a in visible.values_list("action", flat=True).distinct()})
    kinds = sorted(k for k in visible.values_list("object_type", flat=True).distinct() if k)
    return render(request, "frontend/audit_log.html", {
        "page": paginate(request, qs.order_by("-at", "-id"), per_page=50), "actions": actions, "kinds": kinds,
        "filtered": listed.filtered,
    })
