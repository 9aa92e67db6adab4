"""Registering and changing webhook endpoints (a firm admin, on the Webhooks page or the API)."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction

from rebalancing.models import WebhookEndpoint
from tenants.audit.actions import Action
from tenants.audit.services import audit_record
from tenants.errors import ValidationFailed, fields_refused

from .addresses import url_check
from .events import EventType
from .signing import secret_generate

__all__ = ["event_types_check", "webhook_endpoint_create", "webhook_endpoint_update"]


def event_types_check(event_types) -> list[str]:
    """The event types, each known, in the catalogue's order; at least one."""
    given = [str(t).strip() for t in (event_types or [])]
    unknown = sorted({t for t in given if t not in EventType._value2member_map_})
    if unknown:
        raise ValidationFailed(f"Unknown event type(s): {', '.join(unknown)}. Known: "
                               f"{', '.join(t.value for t in EventType)}.", detail={"field": "event_types",
                                                                                    "unknown": unknown})
    if not given:
        raise ValidationFailed("Choose at least one event type.", detail={"field": "event_types"})
    return [t.value for t in EventType if t.value in given]


def _secret_check(secret: str) -> str:
    secret = (secret or "").strip()
    if not secret:
        return secret_generate()
    if not 16 <= len(secret) <= 200 or any(ch.isspace() for ch in secret):
        raise ValidationFailed("A webhook secret has 16 to 200 characters and no spaces; leave it empty to "
                               "have one made.", detail={"field": "secret"})
    return secret


def _endpoint_clean(endpoint: WebhookEndpoint) -> None:
    try:
        endpoint.full_clean()
    except DjangoValidationError as exc:  # a URL the URL validator refuses (a host over 253 characters...)
        raise fields_refused(exc, "The webhook endpoint") from None


def _public(endpoint: WebhookEndpoint) -> dict:
    return {"url": endpoint.url, "description": endpoint.description, "event_types": endpoint.event_types,
            "active": endpoint.active}


@transaction.atomic
def webhook_endpoint_create(*, url: str, event_types, user, description: str = "", secret: str = "") -> WebhookEndpoint:
    """Register an endpoint. Without a secret one is made; either way the caller shows it once."""
    endpoint = WebhookEndpoint(url=url_check(url), event_types=event_types_check(event_types),
                               description=(description or "").strip()[:200], secret=_secret_check(secret),
                               created_by=user if getattr(user, "pk", None) else None)
    _endpoint_clean(endpoint)
    endpoint.save()
    audit_record(actor=user, action=Action.WEBHOOK_ENDPOINT_CREATE, obj=endpoint, after=_public(endpoint))
    return endpoint


@transaction.atomic
def webhook_endpoint_update(*, endpoint: WebhookEndpoint, user, url: str | None = None, event_types=None,
                            description: str | None = None, active: bool | None = None,
                            secret: str | None = None) -> WebhookEndpoint:
    """Change what is given; a new secret (``secret=""`` makes one) applies to the next delivery."""
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    before = _public(endpoint)
    if url is not None:
        endpoint.url = url_check(url)
    if event_types is not None:
        endpoint.event_types = event_types_check(event_types)
    if description is not None:
        endpoint.description = description.strip()[:200]
    if active is not None:
        endpoint.active = bool(active)
    if secret is not None:
        endpoint.secret = _secret_check(secret)
    _endpoint_clean(endpoint)
    endpoint.save()
    after = _public(endpoint) | ({"secret": "changed"} if secret is not None else {})
    audit_record(actor=user, action=Action.WEBHOOK_ENDPOINT_CHANGE, obj=endpoint, before=before, after=after)
    return endpoint
