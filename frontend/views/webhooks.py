"""Webhooks: a firm admin registers endpoints (URL, secret, event types), changes or switches them
off, reads each endpoint's delivery log and sends a delivery again. The same services as the API
(rebalancing.webhooks.endpoints, .delivery); the secret is shown once, when it is set."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from rebalancing.models import WebhookDelivery, WebhookEndpoint
from rebalancing.webhooks.delivery import webhook_delivery_resend
from rebalancing.webhooks.endpoints import webhook_endpoint_create, webhook_endpoint_update
from rebalancing.webhooks.events import EventType
from tenants.errors import DomainError
from tenants.permissions import Capability

from .common import firm_page, paginate, visible_or_404

EVENT_CHOICES = [(t.value, t.words) for t in EventType]


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
    new_secret = forms.BooleanField(required=False, label="Make a new secret")


def _domain_error(form: forms.Form, exc: DomainError) -> None:
    field = (exc.detail or {}).get("field")
    form.add_error(field if field in form.fields else None, exc.message)


@firm_page(Capability.MANAGE_INTEGRATIONS)
def webhook_list(request):
    form = EndpointForm(request.POST or None)
    issued = None
    if request.method == "POST" and form.is_valid():
        try:
            issued = webhook_endpoint_create(user=request.user, **form.cleaned_data)
        except DomainError as exc:
            _domain_error(form, exc)
        else:
            messages.success(request, f"Endpoint {issued.url} registered.")
            form = EndpointForm()
    endpoints = WebhookEndpoint.objects.order_by("-created_at", "-id")
    return render(request, "frontend/webhook_list.html", {
        "form": form, "issued": issued, "endpoints": endpoints, "event_choices": EVENT_CHOICES,
        "chosen": form["event_types"].value() or [],
    })


@firm_page(Capability.MANAGE_INTEGRATIONS)
def webhook_detail(request, pk: int):
    endpoint = visible_or_404(WebhookEndpoint.objects.all(), pk=pk)
    initial = {"url": endpoint.url, "description": endpoint.description, "event_types": endpoint.event_types,
               "active": endpoint.active}
    form = EndpointChangeForm(request.POST or None, initial=initial)
    issued = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            endpoint = webhook_endpoint_update(
                endpoint=endpoint, user=request.user, url=data["url"], description=data["description"],
                event_types=data["event_types"], active=data["active"], secret="" if data["new_secret"] else None)
        except DomainError as exc:
            _domain_error(form, exc)
        else:
            if data["new_secret"]:
                issued = endpoint
            messages.success(request, "Endpoint saved.")
            form = EndpointChangeForm(initial={"url": endpoint.url, "description": endpoint.description,
                                               "event_types": endpoint.event_types, "active": endpoint.active})
    deliveries = paginate(request, WebhookDelivery.objects.filter(endpoint=endpoint)
                          .select_related("event", "resent_by").order_by("-created_at", "-id"))
    words = dict(EVENT_CHOICES)
    for delivery in deliveries:
        delivery.event_words = words.get(delivery.event.event_type, "")
    return render(request, "frontend/webhook_detail.html", {
        "endpoint": endpoint, "form": form, "issued": issued, "deliveries": deliveries,
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
