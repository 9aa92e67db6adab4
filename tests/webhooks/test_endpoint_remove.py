"""Removing an endpoint: nothing more is sent to it (queued and retrying deliveries are cancelled, and a
task that picks one up sends nothing), its delivery log is kept, it is audited, and it cannot be
changed, switched on or sent to again."""

import pytest
from django.db import IntegrityError, transaction
from django_tenants.utils import tenant_context

from rebalancing.models import WebhookDelivery, WebhookEndpoint
from rebalancing.webhooks.addresses import url_for_audit
from rebalancing.webhooks.delivery import webhook_delivery_attempt, webhook_delivery_resend
from rebalancing.webhooks.endpoints import (
    webhook_endpoint_remove,
    webhook_endpoint_update,
    webhook_secret_rotate,
)
from rebalancing.webhooks.events import EventType, webhook_emit
from tenants.audit.models import AuditEvent
from tenants.errors import Conflict, ValidationFailed

pytestmark = pytest.mark.django_db
S = WebhookDelivery.Status


def test_removal_cancels_what_waits_keeps_the_log_and_is_audited(firm_a, receiver, endpoint_for):
    # given: one delivery of each status to the endpoint
    hook = receiver([200])
    endpoint = endpoint_for(firm_a, hook.url)
    with tenant_context(firm_a):
        for _ in S.PENDING, S.RETRYING, S.SUCCEEDED, S.FAILED:
            webhook_emit(EventType.RUN_FINISHED, {"run": 1})
        ids = list(WebhookDelivery.objects.order_by("pk").values_list("pk", flat=True))
        for pk, status in zip(ids, (S.PENDING, S.RETRYING, S.SUCCEEDED, S.FAILED), strict=True):
            WebhookDelivery.objects.filter(pk=pk).update(status=status)

        # when
        webhook_endpoint_remove(endpoint=endpoint, user=None)

        # then: the waiting two are cancelled, the settled two untouched; nothing reaches the receiver
        statuses = dict(WebhookDelivery.objects.values_list("pk", "status"))
        assert [statuses[pk] for pk in ids] == [S.CANCELLED, S.CANCELLED, S.SUCCEEDED, S.FAILED]
        for pk in ids:
            webhook_delivery_attempt(delivery_id=pk)
        assert hook.received == []
        endpoint.refresh_from_db()
        assert endpoint.removed and not endpoint.active
        assert not WebhookEndpoint.objects.present().exists()
        audit = AuditEvent.objects.get(action="webhook.endpoint.remove")
        assert audit.after == {"removed": True, "deliveries_not_sent": 2}
        assert audit.before["url"] == url_for_audit(hook.url) and audit.object_id == str(endpoint.pk)
        # and a new event is not queued for it
        assert webhook_emit(EventType.RUN_FINISHED, {"run": 2}) == 0


def test_an_attempt_running_at_removal_that_recorded_a_retry_sends_nothing_more(firm_a, receiver, endpoint_for):
    hook = receiver([500, 200])
    endpoint = endpoint_for(firm_a, hook.url)
    with tenant_context(firm_a):
        webhook_emit(EventType.RUN_FINISHED, {"run": 1})
        delivery = WebhookDelivery.objects.get()
        webhook_endpoint_remove(endpoint=endpoint, user=None)
        # the attempt that was on the wire during the removal saved its retry after it
        WebhookDelivery.objects.filter(pk=delivery.pk).update(status=S.RETRYING)

        again = webhook_delivery_attempt(delivery_id=delivery.pk)

    assert hook.received == []
    assert again.status == S.CANCELLED and again.error == "not sent: the endpoint was removed"


def test_a_removed_endpoint_is_not_changed_rotated_resent_or_switched_on(firm_a, endpoint_for):
    endpoint = endpoint_for(firm_a, "https://hooks.example.com/r")
    with tenant_context(firm_a):
        webhook_emit(EventType.RUN_FINISHED, {"run": 1})
        delivery = WebhookDelivery.objects.get()
        webhook_endpoint_remove(endpoint=endpoint, user=None)

        with pytest.raises(Conflict):
            webhook_endpoint_update(endpoint=endpoint, user=None, active=True)
        with pytest.raises(Conflict):
            webhook_secret_rotate(endpoint=endpoint, user=None)
        with pytest.raises(Conflict):
            webhook_endpoint_remove(endpoint=endpoint, user=None)
        with pytest.raises(ValidationFailed, match="removed"):
            webhook_delivery_resend(delivery=WebhookDelivery.objects.select_related("endpoint").get(), user=None)
        with pytest.raises(IntegrityError), transaction.atomic():  # the database says it too
            WebhookEndpoint.objects.filter(pk=endpoint.pk).update(active=True)
        assert WebhookDelivery.objects.filter(pk=delivery.pk).exists()
        assert AuditEvent.objects.filter(action="webhook.endpoint.remove").count() == 1
