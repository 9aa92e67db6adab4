"""Rotating an endpoint's secret: a new one is made; for SECRET_ROTATION_GRACE each delivery is signed
with the new and the old one (``Webhook-Signature: v1=<new>,v1=<old>``), so a receiver holding either
accepts it, and afterwards with the new one only; audited without the secrets."""

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from rebalancing.models import WebhookDelivery, WebhookEndpoint
from rebalancing.webhooks.addresses import url_for_audit
from rebalancing.webhooks.delivery import webhook_delivery_attempt
from rebalancing.webhooks.endpoints import webhook_endpoint_update, webhook_secret_rotate
from rebalancing.webhooks.events import EventType, webhook_emit
from rebalancing.webhooks.signing import SECRET_ROTATION_GRACE, signature, signature_header, signature_verify
from tenants.audit.models import AuditEvent

pytestmark = pytest.mark.django_db
OLD = "whsec_test_secret_0123456789"


def _deliver(firm, hook):
    with tenant_context(firm):
        webhook_emit(EventType.RUN_FINISHED, {"run": 1})
        webhook_delivery_attempt(delivery_id=WebhookDelivery.objects.latest("pk").pk)
    return hook.received[-1]


def _docs_verified():
    """The receiver's check from docs/integrations.md, as published."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "integrations.md").read_text()
    [block] = [b for b in re.findall(r"```python\n(.*?)```", doc, flags=re.S) if b.startswith("# receiver.py")]
    namespace = {"__name__": "receiver"}
    exec(compile(block, "docs/integrations.md:receiver.py", "exec"), namespace)  # noqa: S102
    return namespace["verified"]


def test_the_grace_period_is_a_day():
    assert timedelta(hours=24) == SECRET_ROTATION_GRACE


def test_during_the_grace_period_a_delivery_is_signed_with_both_secrets(firm_a, receiver, endpoint_for):
    # given
    hook = receiver([200])
    endpoint = endpoint_for(firm_a, hook.url, secret=OLD)

    # when
    with tenant_context(firm_a):
        before = timezone.now()
        rotated = webhook_secret_rotate(endpoint=endpoint, user=None)
    got = _deliver(firm_a, hook)

    # then
    new = rotated.secret
    assert new != OLD and new.startswith("whsec_")
    assert before + SECRET_ROTATION_GRACE <= rotated.previous_secret_until <= timezone.now() + SECRET_ROTATION_GRACE
    t, header = got.headers["Webhook-Timestamp"], got.headers["Webhook-Signature"]
    assert header == (f"{signature(secret=new, timestamp=int(t), body=got.body)},"
                      f"{signature(secret=OLD, timestamp=int(t), body=got.body)}")
    assert re.fullmatch(r"v1=[0-9a-f]{64},v1=[0-9a-f]{64}", header)
    verified = _docs_verified()
    for secret in (new, OLD):
        assert signature_verify(secret=secret, timestamp=t, body=got.body, header=header)
        assert verified(secret, t, got.body, header)
    assert not signature_verify(secret="whsec_someone_else_0123456", timestamp=t, body=got.body, header=header)
    with tenant_context(firm_a):
        audit = AuditEvent.objects.get(action="webhook.endpoint.secret_rotate")
    assert audit.after == {"url": url_for_audit(hook.url), "secret": "rotated",
                           "previous_secret_until": rotated.previous_secret_until.isoformat()}
    assert new not in json.dumps(audit.after) and OLD not in json.dumps(audit.before or {})


def test_after_the_grace_period_only_the_new_secret_signs(firm_a, receiver, endpoint_for):
    hook = receiver([200])
    endpoint = endpoint_for(firm_a, hook.url, secret=OLD)
    with tenant_context(firm_a):
        new = webhook_secret_rotate(endpoint=endpoint, user=None).secret
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(previous_secret_until=timezone.now())

    got = _deliver(firm_a, hook)

    t, header = got.headers["Webhook-Timestamp"], got.headers["Webhook-Signature"]
    assert header == signature(secret=new, timestamp=int(t), body=got.body)
    assert not signature_verify(secret=OLD, timestamp=t, body=got.body, header=header)
    with tenant_context(firm_a):
        assert WebhookEndpoint.objects.get().previous_secret_signs_until is None


def test_a_second_rotation_keeps_only_the_secret_it_replaces(firm_a, endpoint_for):
    endpoint = endpoint_for(firm_a, "https://hooks.example.com/r", secret=OLD)
    with tenant_context(firm_a):
        middle = webhook_secret_rotate(endpoint=endpoint, user=None).secret
        last = webhook_secret_rotate(endpoint=endpoint, user=None)

    assert last.signing_secrets(timezone.now()) == [last.secret, middle]


def test_a_new_secret_given_through_a_change_is_a_rotation_too(firm_a, endpoint_for):
    endpoint = endpoint_for(firm_a, "https://hooks.example.com/r", secret=OLD)
    with tenant_context(firm_a):
        changed = webhook_endpoint_update(endpoint=endpoint, user=None, secret="a-new-secret-of-my-own")
        audit = AuditEvent.objects.get(action="webhook.endpoint.change")

    assert changed.signing_secrets(timezone.now()) == ["a-new-secret-of-my-own", OLD]
    assert audit.after["secret"] == "rotated" and OLD not in json.dumps(audit.after)


def test_the_header_joins_one_signature_per_secret_in_order():
    header = signature_header(secrets=["whsec_new_0123456789", "whsec_old_0123456789"], timestamp=5, body=b"{}")

    assert header.split(",") == [signature(secret="whsec_new_0123456789", timestamp=5, body=b"{}"),
                                 signature(secret="whsec_old_0123456789", timestamp=5, body=b"{}")]


def test_a_delivery_after_the_grace_period_forgets_the_old_secret(firm_a, receiver, endpoint_for):
    # given a rotation whose grace period ended a moment ago
    hook = receiver([200])
    endpoint = endpoint_for(firm_a, hook.url, secret=OLD)
    with tenant_context(firm_a):
        webhook_secret_rotate(endpoint=endpoint, user=None)
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(previous_secret_until=timezone.now())

    # when a delivery is signed
    got = _deliver(firm_a, hook)

    # then it is signed with the new secret only, and the old one is no longer stored
    assert "," not in got.headers["Webhook-Signature"]
    with tenant_context(firm_a):
        stored = WebhookEndpoint.objects.get(pk=endpoint.pk)
    assert (stored.previous_secret, stored.previous_secret_until) == ("", None)


def test_the_nightly_housekeeping_forgets_expired_old_secrets_only(firm_a, endpoint_for):
    # given two rotated endpoints: one past its grace period, one within it
    from rebalancing.tasks import webhook_secrets_expire

    expired = endpoint_for(firm_a, "https://hooks.example.com/expired", secret=OLD)
    fresh = endpoint_for(firm_a, "https://hooks.example.com/fresh", secret=OLD)
    with tenant_context(firm_a):
        webhook_secret_rotate(endpoint=expired, user=None)
        kept = webhook_secret_rotate(endpoint=fresh, user=None)
        WebhookEndpoint.objects.filter(pk=expired.pk).update(previous_secret_until=timezone.now() - timedelta(hours=1))

        # when the nightly task runs in the firm's schema
        forgotten = webhook_secrets_expire()

        # then only the expired one is cleared
        assert forgotten == 1
        assert WebhookEndpoint.objects.filter(pk=expired.pk).values_list("previous_secret", "previous_secret_until")[0] \
            == ("", None)
        assert WebhookEndpoint.objects.get(pk=fresh.pk).previous_secret == OLD
        assert kept.signing_secrets(timezone.now()) == [kept.secret, OLD]


def test_the_nightly_housekeeping_is_scheduled():
    from django.conf import settings

    entries = [e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == "rebalancing.tasks.webhook_secrets_expire"]
    assert len(entries) == 1 and "tenant_schemas" not in entries[0]  # sent to every firm
