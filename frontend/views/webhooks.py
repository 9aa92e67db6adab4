"""Webhooks: a firm admin registers endpoints (URL, secret, event types), changes or switches them
off, rotates their secret, removes them, resumes one paused because its deliveries kept failing, reads each endpoint's delivery log (a removed one's too)
and sends a delivery again. The same services as the API (rebalancing.webhooks.endpoints,
.delivery); the secret is shown once, when it is set."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from rebalancing.models import WebhookDelivery, WebhookEndpoint
from rebalancing.webhooks.delivery import webhook_delivery_resend
from rebalancing.webhooks.endpoints import (
    webhook_endpoint_create,
    webhook_endpoint_remove,
    webhook_endpoint_resume,
    webhook_endpoint_update,
    webhook_secret_rotate,
)
from rebalancing.webhooks.events import EventType
from rebalancing.webhooks.signing import SECRET_ROTATION_GRACE
from tenants.errors import DomainError
from tenants.permissions import Capability

from .common import firm_page, paginate, visible_or_404

EVENT_CHOICES = [(t.value, t.words) for t in EventType]
GRACE_HOURS = int(SECRET_ROTATION_GRACE.total_seconds() // 3600)


class EndpointForm(forms.Form):
    url = forms.CharField(max_length=500, label="URL")
    description = forms.CharField(max_length=200, required=False)
    secret = forms.CharField(max_length=200, required=False,
                             help_text="16 to 200 characters; leave empty to have one made")
    event_types = forms.MultipleChoiceField(choices=EVENT_CHOICES, widget=forms.CheckboxSelectMultiple,
                                            error_messages={"required": "Choose at least one event."})


class EndpointChangeForm(forms.Form):
    url = forms.CharField(max_length=500, label="URL")
    description = forms.CharField(max_length=200, required=False)
    event_types = forms.MultipleChoiceField(choices=EVENT_CHOICES, widget=forms.CheckboxSelectMultiple,
                                            error_messages={"required": "Choose at least one event."})
    active = forms.BooleanField(required=False)


def _domain_error(form: forms.Form, exc: DomainError) -> None:
    field = (exc.detail or {}).get("field")
    form.add_error(field if field in form.fields else None, exc.message)


def _secret_key(pk: int) -> str:
    return f"webhook_secret_shown_once:{pk}"


def _show_once(request, endpoint: WebhookEndpoint) -> None:
    """Post/redirect/get: the new secret is kept for the next GET of the endpoint's page only, so a
    reload neither registers or rotates again nor shows the secret again."""
    request.session[_secret_key(endpoint.pk)] = endpoint.secret


def _shown_once(request, endpoint: WebhookEndpoint) -> WebhookEndpoint | None:
    """The endpoint, if a secret is waiting for this GET to show it (and is still its secret)."""
    if request.method != "GET":
        return None
    secret = request.session.pop(_secret_key(endpoint.pk), None)
    return endpoint if secret and secret == endpoint.secret and not endpoint.removed else None


@firm_page(Capability.MANAGE_INTEGRATIONS)
def webhook_list(request):
    form = EndpointForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            created = webhook_endpoint_create(user=request.user, **form.cleaned_data)
        except DomainError as exc:
            _domain_error(form, exc)
        else:
            messages.success(request, f"Endpoint {created.url} registered.")
            _show_once(request, created)
            return redirect("webhook_detail", pk=created.pk)
    endpoints = WebhookEndpoint.objects.present().select_related("created_by").order_by("-created_at", "-id")
    removed = (WebhookEndpoint.objects.removed().select_related("removed_by")
               .order_by("-removed_at", "-id"))
    return render(request, "frontend/webhook_list.html", {
        "form": form, "endpoints": endpoints, "removed": removed, "event_choices": EVENT_CHOICES,
        "chosen": form["event_types"].value() or [],
    })


def _initial(endpoint: WebhookEndpoint) -> dict:
    return {"url": endpoint.url, "description": endpoint.description, "event_types": endpoint.event_types,
            "active": endpoint.active}


@firm_page(Capability.MANAGE_INTEGRATIONS)
def webhook_detail(request, pk: int):
    """The endpoint, its change form and its delivery log. A POST's ``action`` says what it does:
    ``rotate`` (a new secret, shown once on the page it redirects to), ``remove`` (back to the
    list), ``resume`` (a paused one; from the list too), or, without one, save the form. A removed endpoint's page shows its log only."""
    # Removed ones too: their delivery log stays readable; the services refuse to change them.
    endpoint = visible_or_404(WebhookEndpoint.objects.select_related("removed_by"), pk=pk)
    action = request.POST.get("action", "") if request.method == "POST" else ""
    form = EndpointChangeForm(request.POST if request.method == "POST" and not action else None,
                              initial=_initial(endpoint))
    issued = _shown_once(request, endpoint)
    if action == "resume":
        try:
            endpoint = webhook_endpoint_resume(endpoint=endpoint, user=request.user)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"Endpoint {endpoint.url} resumed: new events are sent to it again. "
                                      "Deliveries not sent while it was paused can be sent again from its log.")
        return redirect("webhook_detail", pk=endpoint.pk)
    if action in ("rotate", "remove"):
        try:
            if action == "remove":
                webhook_endpoint_remove(endpoint=endpoint, user=request.user)
            else:
                endpoint = webhook_secret_rotate(endpoint=endpoint, user=request.user)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            if action == "remove":
                messages.success(request, f"Endpoint {endpoint.url} removed: nothing more is sent to it. Its "
                                          "delivery log stays readable under Removed endpoints.")
                return redirect("webhook_list")
            messages.success(request, f"New secret made. For {GRACE_HOURS} hours deliveries are signed with "
                                      "both the new and the old secret.")
            _show_once(request, endpoint)
            return redirect("webhook_detail", pk=endpoint.pk)
    elif action:
        messages.error(request, f"Unknown action {action[:40]!r}.")
    elif request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            endpoint = webhook_endpoint_update(
                endpoint=endpoint, user=request.user, url=data["url"], description=data["description"],
                event_types=data["event_types"], active=data["active"])
        except DomainError as exc:
            if endpoint.removed:  # its page has no form to show the error beside
                messages.error(request, exc.message)
            _domain_error(form, exc)
        else:
            messages.success(request, "Endpoint saved.")
            form = EndpointChangeForm(initial=_initial(endpoint))
    deliveries = paginate(request, WebhookDelivery.objects.filter(endpoint=endpoint)
                          .select_related("event", "resent_by").order_by("-created_at", "-id"))
    words = dict(EVENT_CHOICES)
    for delivery in deliveries:
        delivery.event_words = words.get(delivery.event.event_type, "")
    return render(request, "frontend/webhook_detail.html", {
        "endpoint": endpoint, "form": form, "issued": issued, "deliveries": deliveries, "grace_hours": GRACE_HOURS,
        "event_choices": EVENT_CHOICES, "chosen": form["event_types"].value() or [],
    })


@firm_page(Capability.MANAGE_INTEGRATIONS)
@require_POST
def webhook_delivery_resend_view(request, pk: int):
    delivery = visible_or_404(WebhookDelivery.objects.select_related("event", "endpoint"), pk=pk)
    try:
        again = webhook_delivery_resend(delivery=delivery, user=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{delivery.event.event_type} queued again as delivery {again.pk} "
                                  f"(same idempotency id {delivery.event_id}).")
    return redirect("webhook_detail", pk=delivery.endpoint_id)
