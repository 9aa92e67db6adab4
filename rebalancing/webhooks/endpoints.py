"""Registering and changing webhook endpoints (a firm admin, on the Webhooks page or the API)."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.utils import timezone

from rebalancing.models import WebhookEndpoint
from tenants.audit.actions import Action
from tenants.audit.services import audit_record
from tenants.errors import Conflict, ValidationFailed, fields_refused

from .addresses import url_check, url_for_audit
from .delivery import REMOVED
from .events import EventType
from .pausing import deliveries_waiting_cancel
from .signing import SECRET_ROTATION_GRACE, secret_generate

__all__ = ["event_types_check", "webhook_endpoint_create", "webhook_endpoint_remove", "webhook_endpoint_resume",
           "webhook_endpoint_update", "webhook_previous_secrets_forget", "webhook_secret_rotate"]


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
    """What the audit says of an endpoint: its URL masked (url_for_audit), never its secret."""
    return {"url": url_for_audit(endpoint.url), "description": endpoint.description,
            "event_types": endpoint.event_types, "active": endpoint.active}


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


def _locked_present(endpoint: WebhookEndpoint) -> WebhookEndpoint:
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    if endpoint.removed:
        raise Conflict(f"The endpoint {endpoint.url} was removed; it cannot be changed.",
                       detail={"endpoint": endpoint.pk})
    return endpoint


def _secret_replace(endpoint: WebhookEndpoint, secret: str) -> dict:
    """The new secret signs from now on; the one it replaces signs beside it for the grace period, so a
    receiver switching over refuses nothing. A second rotation within that period keeps only the
    secret it replaces (the one before that stops at once). What the audit says, without secrets."""
    now = timezone.now()
    endpoint.previous_secret, endpoint.previous_secret_until = endpoint.secret, now + SECRET_ROTATION_GRACE
    endpoint.secret = secret
    return {"secret": "rotated", "previous_secret_until": endpoint.previous_secret_until.isoformat()}


@transaction.atomic
def webhook_endpoint_update(*, endpoint: WebhookEndpoint, user, url: str | None = None, event_types=None,
                            description: str | None = None, active: bool | None = None,
                            secret: str | None = None) -> WebhookEndpoint:
    """Change what is given; a new secret (``secret=""`` makes one) is a rotation (webhook_secret_rotate)."""
    endpoint = _locked_present(endpoint)
    before = _public(endpoint)
    if url is not None:
        endpoint.url = url_check(url)
    if event_types is not None:
        endpoint.event_types = event_types_check(event_types)
    if description is not None:
        endpoint.description = description.strip()[:200]
    if active is not None:
        endpoint.active = bool(active)
    rotated = _secret_replace(endpoint, _secret_check(secret)) if secret is not None else {}
    _endpoint_clean(endpoint)
    endpoint.save()
    audit_record(actor=user, action=Action.WEBHOOK_ENDPOINT_CHANGE, obj=endpoint, before=before,
                 after=_public(endpoint) | rotated)
    return endpoint


@transaction.atomic
def webhook_secret_rotate(*, endpoint: WebhookEndpoint, user) -> WebhookEndpoint:
    """Make a new secret (the caller shows it once). For ``SECRET_ROTATION_GRACE`` deliveries are signed
    with the new and the old one (``Webhook-Signature: v1=<new>,v1=<old>``), then with the new only."""
    endpoint = _locked_present(endpoint)
    rotated = _secret_replace(endpoint, secret_generate())
    _endpoint_clean(endpoint)
    endpoint.save(update_fields=["secret", "previous_secret", "previous_secret_until"])
    audit_record(actor=user, action=Action.WEBHOOK_SECRET_ROTATE, obj=endpoint,
                 after={"url": url_for_audit(endpoint.url)} | rotated)
    return endpoint


@transaction.atomic
def webhook_endpoint_remove(*, endpoint: WebhookEndpoint, user) -> WebhookEndpoint:
    """Stop sending to the endpoint now: it is switched off for good and its queued and retrying
    deliveries are cancelled (a task that picks one up sends nothing). It is kept, removed, with its
    delivery log, which stays readable (the audit's); the lists leave it out."""
    endpoint = _locked_present(endpoint)
    before = _public(endpoint)
    endpoint.active, endpoint.removed_at = False, timezone.now()
    endpoint.removed_by = user if getattr(user, "pk", None) else None
    # Its old secret signs nothing any more; no reason to keep it.
    endpoint.previous_secret, endpoint.previous_secret_until = "", None
    endpoint.save(update_fields=["active", "removed_at", "removed_by", "previous_secret", "previous_secret_until"])
    cancelled = deliveries_waiting_cancel(endpoint_id=endpoint.pk, error=REMOVED)
    audit_record(actor=user, action=Action.WEBHOOK_ENDPOINT_REMOVE, obj=endpoint, before=before,
                 after={"removed": True, "deliveries_not_sent": cancelled})
    return endpoint


@transaction.atomic
def webhook_endpoint_resume(*, endpoint: WebhookEndpoint, user) -> WebhookEndpoint:
    """Send to a paused endpoint again (rebalancing.webhooks.pausing): its count of failures in a row
    starts over. What was not sent while it was paused stays unsent; each can be sent again from
    the delivery log."""
    endpoint = _locked_present(endpoint)
    if not endpoint.paused:
        raise Conflict("The endpoint is not paused; there is nothing to resume.", detail={"endpoint": endpoint.pk})
    before = {"url": url_for_audit(endpoint.url), "paused_at": endpoint.paused_at.isoformat(),
              "paused_reason": endpoint.paused_reason, "failures_in_a_row": endpoint.failures_in_a_row}
    endpoint.paused_at, endpoint.paused_reason, endpoint.failures_in_a_row = None, "", 0
    endpoint.save(update_fields=["paused_at", "paused_reason", "failures_in_a_row"])
    audit_record(actor=user, action=Action.WEBHOOK_ENDPOINT_RESUME, obj=endpoint, before=before,
                 after={"url": url_for_audit(endpoint.url), "paused": False, "failures_in_a_row": 0})
    return endpoint


def webhook_previous_secrets_forget() -> int:
    """The nightly housekeeping: the secrets replaced by a rotation whose grace period has ended are
    cleared (delivery clears an endpoint's as it signs; this reaches those with nothing to send).
    How many. Not audited: the rotation's audit row said when the old secret would stop."""
    return WebhookEndpoint.objects.previous_secrets_forget(timezone.now())
