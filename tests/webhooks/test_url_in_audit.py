"""A webhook URL in the audit trail. For chat tools and no-code hooks the URL itself is the credential
(https://hooks.slack.com/services/T…/B…/<token>); compliance may not see the Webhooks pages or API
(MANAGE_INTEGRATIONS) but reads the audit trail (its page, CSV and API), so the audit keeps the
scheme, host and port and masks the path. The Webhooks pages still show a firm admin the whole URL."""

import json
from urllib.parse import urlsplit

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import WebhookDelivery
from rebalancing.webhooks.addresses import url_for_audit
from rebalancing.webhooks.delivery import webhook_delivery_attempt, webhook_delivery_resend
from rebalancing.webhooks.endpoints import (
    webhook_endpoint_create,
    webhook_endpoint_remove,
    webhook_endpoint_update,
    webhook_secret_rotate,
)
from rebalancing.webhooks.events import EventType, webhook_emit
from tenants.audit.models import AuditEvent

pytestmark = pytest.mark.django_db
TOKEN = "h5SecretTokenXyz123"
SECRET_URL = f"https://hooks.slack.com/services/T0001/B0002/{TOKEN}"


def masked(url: str) -> str:
    """The rule said plainly: origin, then the first path segment only when more segments follow."""
    parts = urlsplit(url)
    origin = f"{parts.scheme}://{parts.netloc}"
    segments = parts.path.strip("/").split("/") if parts.path.strip("/") else []
    if len(segments) >= 2:
        return f"{origin}/{segments[0]}/…"
    return f"{origin}/…" if segments or parts.query or parts.fragment else origin


@pytest.mark.parametrize(("url", "expected"), [
    (SECRET_URL, "https://hooks.slack.com/services/…"),
    ("https://discord.com/api/webhooks/123/tok", "https://discord.com/api/…"),
    ("https://maker.ifttt.com/trigger/x/with/key/k", "https://maker.ifttt.com/trigger/…"),
    ("https://example.com/onlytoken", "https://example.com/…"),  # one segment may be the token itself
    ("https://example.com/?key=abc", "https://example.com/…"),  # so may the query
    ("https://example.com", "https://example.com"),
    ("https://example.com/", "https://example.com"),
    ("http://203.0.113.5:8443/a/b/c#frag", "http://203.0.113.5:8443/a/…"),
    ("https://[2001:db8::1]:444/in/secret", "https://[2001:db8::1]:444/in/…"),
])
def test_the_audit_form_of_a_url_keeps_the_origin_and_masks_the_rest(url, expected):
    assert url_for_audit(url) == masked(url) == expected


def test_compliance_does_not_read_a_webhook_url_it_may_not_see(firm_a, people, client_for):
    with tenant_context(firm_a):
        webhook_endpoint_create(url=SECRET_URL, event_types=["run.finished"], user=people["admin"])
    client = client_for(firm_a, people["compliance"])

    assert client.get("/webhooks/").status_code == 403  # the integrations are not compliance's
    assert client.get("/api/v1/webhook-endpoints/").status_code == 403
    audit_page = client.get("/audit/").content.decode()
    leaks = {
        "audit page": TOKEN in audit_page,
        "audit csv": TOKEN in client.get("/audit/?download=csv").content.decode(),
        "audit api": TOKEN in client.get("/api/v1/audit-events/").content.decode(),
    }
    assert not any(leaks.values()), f"the webhook URL's token is shown to compliance: {leaks}"
    assert "https://hooks.slack.com/services/" in audit_page  # which endpoint it was is still said
    admin_page = client_for(firm_a, people["admin"]).get("/webhooks/").content.decode()
    assert SECRET_URL in admin_page  # the firm admin's page shows the whole URL


def test_no_webhook_audit_record_keeps_the_whole_url(firm_a, people, receiver):
    hook = receiver([200])
    secret_url = f"{hook.url}/services/{TOKEN}"
    admin = people["admin"]
    with tenant_context(firm_a):
        endpoint = webhook_endpoint_create(url=f"{hook.url}/first/{TOKEN}", event_types=["run.finished"],
                                           user=admin)
        endpoint = webhook_endpoint_update(endpoint=endpoint, user=admin, url=secret_url)
        webhook_secret_rotate(endpoint=endpoint, user=admin)
        webhook_emit(EventType.RUN_FINISHED, {"run": 1})
        sent = webhook_delivery_attempt(delivery_id=WebhookDelivery.objects.latest("pk").pk)
        webhook_delivery_resend(delivery=sent, user=admin)
        webhook_endpoint_remove(endpoint=endpoint, user=admin)
        records = list(AuditEvent.objects.filter(action__startswith="webhook.").order_by("pk"))

    assert [r.action for r in records] == ["webhook.endpoint.create", "webhook.endpoint.change",
                                           "webhook.endpoint.secret_rotate", "webhook.delivery.resend",
                                           "webhook.endpoint.remove"]
    for r in records:
        kept = json.dumps([r.object_repr, r.before, r.after, r.comment], ensure_ascii=False)
        assert TOKEN not in kept, f"{r.action} keeps the URL: {kept}"
    assert records[1].before["url"] == url_for_audit(f"{hook.url}/first/{TOKEN}") == f"{hook.url}/…"
    assert records[1].after["url"] == records[3].after["endpoint"] == url_for_audit(secret_url)
    assert [(r.object_type, r.object_id) for r in records if r.action.startswith("webhook.endpoint")] == [
        ("webhookendpoint", str(endpoint.pk))] * 4
