"""One attempt at a delivery, against a real HTTP receiver on this machine (no mock): signed, with
the idempotency id, logged with status and answer; failures retried with back-off, then given up;
redirects not followed; private addresses refused in production; re-sending."""

import json
from datetime import timedelta

import pytest
from django.test import override_settings
from django_tenants.utils import tenant_context

from rebalancing.models import WebhookDelivery
from rebalancing.webhooks.delivery import retry_delay, webhook_delivery_attempt, webhook_delivery_resend
from rebalancing.webhooks.events import EventType, webhook_emit
from rebalancing.webhooks.signing import signature_verify
from tenants.audit.models import AuditEvent

pytestmark = pytest.mark.django_db
SECRET = "whsec_test_secret_0123456789"


def _emit(firm, data=None) -> WebhookDelivery:
    with tenant_context(firm):
        webhook_emit(EventType.RUN_FINISHED, data or {"run": 7, "done": 3, "failed": 0})
        return WebhookDelivery.objects.select_related("event").latest("pk")


def test_a_delivery_is_signed_carries_its_idempotency_id_and_is_logged(firm_a, receiver, endpoint_for):
    hook = receiver([200])
    endpoint_for(firm_a, hook.url)
    delivery = _emit(firm_a)

    with tenant_context(firm_a):
        done = webhook_delivery_attempt(delivery_id=delivery.pk)

    [got] = hook.received
    body = json.loads(got.body)
    assert body == {"id": str(delivery.event_id), "type": "run.finished", "firm": firm_a.slug,
                    "occurred_at": delivery.event.occurred_at.isoformat(), "data": {"run": 7, "done": 3, "failed": 0}}
    assert got.headers["Webhook-Id"] == str(delivery.event_id) and got.headers["Webhook-Event"] == "run.finished"
    assert got.headers["Content-Type"] == "application/json"
    assert signature_verify(secret=SECRET, timestamp=got.headers["Webhook-Timestamp"], body=got.body,
                            header=got.headers["Webhook-Signature"])
    assert (done.status, done.attempts, done.response_code, done.error) == ("succeeded", 1, 200, "")
    assert done.response_excerpt == "answer 1: 200" and done.next_attempt_at is None


@override_settings(WEBHOOK_MAX_ATTEMPTS=3, WEBHOOK_RETRY_BASE_SECONDS=30, WEBHOOK_RETRY_MAX_SECONDS=45)
def test_a_failure_is_retried_with_back_off_then_given_up(firm_a, receiver, endpoint_for):
    hook = receiver([500, 503, 502])
    endpoint_for(firm_a, hook.url)
    delivery = _emit(firm_a)

    with tenant_context(firm_a):
        first = webhook_delivery_attempt(delivery_id=delivery.pk)
        assert (first.status, first.attempts, first.response_code, first.error) == ("retrying", 1, 500, "answered 500")
        assert first.next_attempt_at - first.last_attempt_at == timedelta(seconds=30)
        second = webhook_delivery_attempt(delivery_id=delivery.pk)
        assert second.next_attempt_at - second.last_attempt_at == timedelta(seconds=45)  # 60, capped
        third = webhook_delivery_attempt(delivery_id=delivery.pk)
        again = webhook_delivery_attempt(delivery_id=delivery.pk)  # a redelivered task message

    assert (third.status, third.attempts, third.response_code, third.next_attempt_at) == ("failed", 3, 502, None)
    assert again.attempts == 3 and len(hook.received) == 3
    assert len({r.headers["Webhook-Id"] for r in hook.received}) == 1  # the same idempotency id each time
    assert [retry_delay(n) for n in (1, 2, 3)] == [30, 45, 45]


def test_no_answer_is_a_failure_that_is_retried(firm_a, receiver, endpoint_for):
    hook = receiver([200])
    url = hook.url
    hook.close()  # nobody listens any more
    endpoint_for(firm_a, url)
    delivery = _emit(firm_a)

    with tenant_context(firm_a):
        done = webhook_delivery_attempt(delivery_id=delivery.pk)

    assert done.status == "retrying" and done.response_code is None and done.error.startswith("no answer")


def test_a_redirect_is_not_followed(firm_a, receiver, endpoint_for):
    target = receiver([200])
    hook = receiver([302], redirect_to=target.url)
    endpoint_for(firm_a, hook.url)
    delivery = _emit(firm_a)

    with tenant_context(firm_a):
        done = webhook_delivery_attempt(delivery_id=delivery.pk)

    assert (done.status, done.response_code) == ("retrying", 302)
    assert len(hook.received) == 1 and target.received == []


def test_a_private_address_is_refused_at_delivery_in_production(firm_a, receiver, endpoint_for):
    hook = receiver([200])
    endpoint_for(firm_a, hook.url.replace("127.0.0.1", "localhost"))  # registered while allowed
    delivery = _emit(firm_a)

    with override_settings(WEBHOOK_ALLOW_PRIVATE_ADDRESSES=False), tenant_context(firm_a):
        done = webhook_delivery_attempt(delivery_id=delivery.pk)

    assert done.status == "failed" and "private or reserved address" in done.error  # not retried
    assert hook.received == []


def test_a_resend_is_a_new_delivery_of_the_same_event_and_is_audited(firm_a, receiver, endpoint_for, firm_user,
                                                                      django_capture_on_commit_callbacks):
    from tenants.roles import FirmRole

    admin = firm_user(firm_a, "admin@a.example", FirmRole.FIRM_ADMIN)
    hook = receiver([200])
    endpoint_for(firm_a, hook.url)
    delivery = _emit(firm_a)

    with tenant_context(firm_a), django_capture_on_commit_callbacks() as queued:
        webhook_delivery_attempt(delivery_id=delivery.pk)
        again = webhook_delivery_resend(delivery=delivery, user=admin)
        sent = webhook_delivery_attempt(delivery_id=again.pk)
        audit = AuditEvent.objects.get(action="webhook.delivery.resend")

    assert len(queued) == 1  # the re-send is queued on commit
    assert again.pk != delivery.pk and again.event_id == delivery.event_id and again.resent_from_id == delivery.pk
    assert sent.status == "succeeded" and len(hook.received) == 2
    assert hook.received[0].headers["Webhook-Id"] == hook.received[1].headers["Webhook-Id"]
    assert hook.received[0].headers["Webhook-Delivery"] != hook.received[1].headers["Webhook-Delivery"]
    assert audit.after["resent_from"] == delivery.pk and audit.actor == "admin@a.example"
