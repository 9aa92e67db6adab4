"""The Webhooks pages remove an endpoint and rotate its secret, each after a data-confirm question:
the new secret is shown once; a removed endpoint leaves the list for a Removed section, and its page
keeps the delivery log but offers no change; another firm's is not found."""

import re

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import WebhookDelivery, WebhookEndpoint
from rebalancing.webhooks.events import EventType, webhook_emit
from tenants.audit.models import AuditEvent
from tenants.roles import FirmRole

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(firm_a, client_for, firm_user):
    return client_for(firm_a, firm_user(firm_a, "admin@a.example", FirmRole.FIRM_ADMIN))


@pytest.fixture
def endpoint(firm_a, admin_client):
    admin_client.post("/webhooks/", {"url": "https://oms.example.com/hooks", "event_types": ["run.finished"]})
    with tenant_context(firm_a):
        return WebhookEndpoint.objects.get()


def _confirm_of(page: str, action: str) -> str:
    match = re.search(r'<form method="post" data-confirm="([^"]+)">[^<]*<input[^>]*>'
                      rf'<button type="submit" name="action" value="{action}"', page)
    assert match, f"no confirmed form for {action}"
    return match.group(1)


def test_both_actions_ask_first(admin_client, endpoint):
    page = admin_client.get(f"/webhooks/{endpoint.pk}/").content.decode()

    assert _confirm_of(page, "remove").startswith("Remove https://oms.example.com/hooks?")
    assert "24 hours" in _confirm_of(page, "rotate")


def test_rotating_shows_the_new_secret_once_and_says_both_sign(firm_a, admin_client, endpoint):
    old = endpoint.secret

    posted = admin_client.post(f"/webhooks/{endpoint.pk}/", {"action": "rotate"})
    page = admin_client.get(posted["Location"]).content.decode()
    again = admin_client.get(f"/webhooks/{endpoint.pk}/").content.decode()

    endpoint.refresh_from_db()
    assert posted.status_code == 302 and posted["Location"] == f"/webhooks/{endpoint.pk}/"
    assert endpoint.secret != old and endpoint.previous_secret == old
    assert endpoint.secret in page and endpoint.secret not in again and old not in page
    assert "v1=&lt;new&gt;,v1=&lt;old&gt;" in page and 'id="secret-grace"' in again
    with tenant_context(firm_a):
        assert AuditEvent.objects.filter(action="webhook.endpoint.secret_rotate").count() == 1


def test_removing_keeps_the_log_readable_and_offers_no_change(firm_a, admin_client, endpoint):
    with tenant_context(firm_a):
        webhook_emit(EventType.RUN_FINISHED, {"run": 5})
        delivery = WebhookDelivery.objects.get()

    removed = admin_client.post(f"/webhooks/{endpoint.pk}/", {"action": "remove"})
    listing = admin_client.get("/webhooks/").content.decode()
    log = admin_client.get(f"/webhooks/{endpoint.pk}/").content.decode()
    switch_on = admin_client.post(f"/webhooks/{endpoint.pk}/", {"url": endpoint.url, "event_types": ["run.finished"],
                                                                "active": "on"})

    assert removed.status_code == 302 and removed["Location"] == "/webhooks/"
    assert 'id="removed-endpoints"' in listing and "No endpoint yet." in listing
    assert 'id="removed-note"' in log and str(delivery.event_id) in log
    assert "Not sent: the endpoint was removed" in log
    assert 'value="remove"' not in log and 'value="rotate"' not in log and "/resend/" not in log
    assert "was removed; it cannot be changed" in switch_on.content.decode()
    with tenant_context(firm_a):
        assert WebhookDelivery.objects.get().status == "cancelled"
        assert not WebhookEndpoint.objects.get().active
        assert AuditEvent.objects.filter(action="webhook.endpoint.remove").count() == 1


def test_another_firms_endpoint_is_not_removed_or_rotated(firm_a, firm_b, client_for, firm_user, endpoint):
    other = client_for(firm_b, firm_user(firm_b, "admin@b.example", FirmRole.FIRM_ADMIN))

    answers = [other.post(f"/webhooks/{endpoint.pk}/", {"action": action}) for action in ("remove", "rotate")]

    assert [a.status_code for a in answers] == [404, 404]
    with tenant_context(firm_a):
        assert WebhookEndpoint.objects.present().get().secret == endpoint.secret


@pytest.mark.parametrize("role", [FirmRole.PORTFOLIO_MANAGER, FirmRole.ADVISOR, FirmRole.COMPLIANCE])
def test_only_a_firm_admin_removes(firm_a, client_for, firm_user, endpoint, role):
    client = client_for(firm_a, firm_user(firm_a, f"{role}@a.example", role))

    assert client.post(f"/webhooks/{endpoint.pk}/", {"action": "remove"}).status_code == 403
    with tenant_context(firm_a):
        assert WebhookEndpoint.objects.present().exists()


def test_a_removed_endpoint_with_nothing_sent_promises_no_deliveries(admin_client, endpoint):
    admin_client.post(f"/webhooks/{endpoint.pk}/", {"action": "remove"})

    log = admin_client.get(f"/webhooks/{endpoint.pk}/").content.decode()

    assert "The endpoint is removed: nothing will be sent to it." in log
    assert "Deliveries appear here as the events this endpoint takes happen" not in log
