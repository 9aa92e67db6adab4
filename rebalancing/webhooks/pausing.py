"""Pausing an endpoint whose deliveries keep failing.

A receiver that is gone (an address that swallows packets) costs a worker of the shared notify queue
up to ``WEBHOOK_TIMEOUT_SECONDS`` per attempt and ``WEBHOOK_MAX_ATTEMPTS`` attempts per event, while
other firms' deliveries and the approvers' e-mails wait behind it. So after
``WEBHOOK_PAUSE_AFTER_FAILURES`` deliveries in a row failed for good (every attempt spent, or refused),
the endpoint is paused: nothing more is queued for it, its waiting and retrying deliveries are not
sent (as at removal), the pause is audited and the firm's admins are e-mailed. It stays paused until
a firm admin resumes it (rebalancing.webhooks.endpoints.webhook_endpoint_resume). A success starts
the count over.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import connection, transaction
from django.utils import timezone

from rebalancing.models import WebhookDelivery, WebhookEndpoint
from tenants.audit.actions import Action
from tenants.audit.services import audit_record
from tenants.permissions import ROLE_CAPABILITIES, Capability
from tenants.sites import site_url

from .addresses import url_for_audit

__all__ = ["PAUSED", "deliveries_waiting_cancel", "delivery_failed_count", "delivery_succeeded_count"]

logger = logging.getLogger(__name__)

PAUSED = "not sent: the endpoint was paused"


def deliveries_waiting_cancel(*, endpoint_id: int, error: str) -> int:
    """The endpoint's deliveries waiting or retrying are not sent (a task that picks one up sends
    nothing); ``error`` says why. How many."""
    S = WebhookDelivery.Status
    return (WebhookDelivery.objects.filter(endpoint_id=endpoint_id, status__in=(S.PENDING, S.RETRYING))
            .update(status=S.CANCELLED, next_attempt_at=None, error=error))


def delivery_succeeded_count(*, endpoint_id: int) -> None:
    """A delivery answered 2xx: the endpoint's failures in a row start over."""
    WebhookEndpoint.objects.filter(pk=endpoint_id, failures_in_a_row__gt=0).update(failures_in_a_row=0)


@transaction.atomic
def delivery_failed_count(*, endpoint_id: int, error: str) -> bool:
    """A delivery to the endpoint failed for good (``error``: its last attempt's). Counted under the
    endpoint's row lock, so workers finishing at once count each failure once and pause it once.
    Whether this failure paused it."""
    endpoint = WebhookEndpoint.objects.select_for_update().filter(pk=endpoint_id).first()
    if endpoint is None:
        return False
    endpoint.failures_in_a_row += 1
    limit = settings.WEBHOOK_PAUSE_AFTER_FAILURES
    if endpoint.paused or endpoint.removed or limit <= 0 or endpoint.failures_in_a_row < limit:
        endpoint.save(update_fields=["failures_in_a_row"])
        return False
    endpoint.paused_at = timezone.now()
    endpoint.paused_reason = (f"{endpoint.failures_in_a_row} deliveries in a row failed after every attempt "
                              f"(the last: {error or 'no answer'})")[:500]
    endpoint.save(update_fields=["failures_in_a_row", "paused_at", "paused_reason"])
    not_sent = deliveries_waiting_cancel(endpoint_id=endpoint.pk, error=PAUSED)
    audit_record(actor="webhook delivery", action=Action.WEBHOOK_ENDPOINT_PAUSE, obj=endpoint,
                 after={"url": url_for_audit(endpoint.url), "failures_in_a_row": endpoint.failures_in_a_row,
                        "reason": endpoint.paused_reason, "deliveries_not_sent": not_sent})
    transaction.on_commit(lambda: _admins_tell(endpoint, not_sent))
    return True


def _admins_tell(endpoint: WebhookEndpoint, not_sent: int) -> int:
    """E-mail those who may resume it (firm admins) that it is paused, why and since when. A mail
    server that refuses is logged: the pause stands, and its page says it. How many were sent."""
    roles = [role for role, caps in ROLE_CAPABILITIES.items() if Capability.MANAGE_INTEGRATIONS in caps]
    admins = (get_user_model().objects.filter(is_active=True, groups__name__in=roles).exclude(email="")
              .distinct().order_by("pk"))
    domain = getattr(getattr(connection, "tenant", None), "primary_domain", None)
    page = site_url(domain, f"/webhooks/{endpoint.pk}/")
    name = url_for_audit(endpoint.url)  # its path may be a credential: not in an e-mail
    since = timezone.localtime(endpoint.paused_at).strftime("%b %-d, %Y, %H:%M %Z")
    waiting = (f" {not_sent} deliver{'ies' if not_sent != 1 else 'y'} waiting for it {'were' if not_sent != 1 else 'was'}"
               " not sent; each can be sent again from its delivery log." if not_sent else "")
    sent = 0
    for admin in admins:
        body = "\n".join([
            f"Hello {admin.first_name or admin.get_username()},", "",
            f"Nothing is sent to the webhook endpoint {name}"
            f"{f' ({endpoint.description})' if endpoint.description else ''} since {since}: "
            f"{endpoint.paused_reason}.{waiting}", "",
            "When its receiver answers again, resume the endpoint on its page:", page])
        try:
            send_mail(subject=f"Webhook endpoint paused: {name}", message=body,
                      from_email=settings.DEFAULT_FROM_EMAIL, recipient_list=[admin.email])
        except Exception:
            logger.exception("the notice of webhook endpoint %s's pause was not sent to %s", endpoint.pk, admin.pk)
            continue
        sent += 1
    return sent
