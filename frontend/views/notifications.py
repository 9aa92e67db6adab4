"""One's own e-mail notices: how an approver hears of proposals waiting for them."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render

from rebalancing.models import NotificationPreference
from rebalancing.services.notifications import notification_preference_of, notification_preference_set
from tenants.errors import DomainError
from tenants.permissions import Capability

from .common import firm_page


@firm_page((Capability.APPROVE, Capability.APPROVE_COMPLIANCE))
def notifications_page(request):
    status = 200
    if request.method == "POST":
        try:
            notification_preference_set(user=request.user, approvals=request.POST.get("approvals", ""))
        except DomainError as exc:
            messages.error(request, exc.message)
            status = 400
        else:
            messages.success(request, "Saved: this is how you will hear of proposals waiting for you.")
            return redirect("notifications")
    return render(request, "frontend/notifications.html", {
        "choices": NotificationPreference.Approvals.choices, "current": notification_preference_of(request.user),
    }, status=status)
