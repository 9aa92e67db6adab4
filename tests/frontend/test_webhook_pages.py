"""The Webhooks pages: a firm admin registers an endpoint (the secret shown once), reads its
delivery log and sends a delivery again; nobody else opens them; bad input names the problem."""

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import WebhookDelivery, WebhookEndpoint
from rebalancing.webhooks.events import EventType, webhook_emit
from tenants.roles import FirmRole

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(firm_a, client_for, firm_user):
    return client_for(firm_a, firm_user(firm_a, "admin@a.example", FirmRole.FIRM_ADMIN))


def test_a_firm_admin_registers_an_endpoint_and_sees_its_secret_once(firm_a, admin_client):
    posted = admin_client.post("/webhooks/", {"url": "https://oms.example.com/hooks", "description": "OMS",
                                              "event_types": ["run.finished", "orders.released"]})
    with tenant_context(firm_a):
        endpoint = WebhookEndpoint.objects.get()
    page = admin_client.get(posted["Location"])
    again = admin_client.get("/webhooks/")

    assert posted.status_code == 302 and posted["Location"] == f"/webhooks/{endpoint.pk}/"
    assert endpoint.secret in page.content.decode() and endpoint.secret not in again.content.decode()
    assert endpoint.event_types == ["run.finished", "orders.released"] and endpoint.description == "OMS"
    assert "https://oms.example.com/hooks" in again.content.decode()


def test_bad_input_is_shown_beside_its_field_and_writes_nothing(firm_a, admin_client, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = False
    no_events = admin_client.post("/webhooks/", {"url": "https://oms.example.com/hooks"})
    private = admin_client.post("/webhooks/", {"url": "http://10.0.0.8/hooks", "event_types": ["run.finished"]})

    assert "Choose at least one event." in no_events.content.decode()
    assert "may not point at a private or reserved address (10.0.0.8)" in private.content.decode()
    with tenant_context(firm_a):
        assert not WebhookEndpoint.objects.exists()


def test_a_url_the_url_validator_refuses_is_shown_beside_its_field_and_changes_nothing(firm_a, admin_client):
    admin_client.post("/webhooks/", {"url": "https://oms.example.com/hooks", "event_types": ["run.finished"]})
    with tenant_context(firm_a):
        endpoint = WebhookEndpoint.objects.get()
    long_host = "https://" + "h" * 300 + ".example/hooks"

    created = admin_client.post("/webhooks/", {"url": long_host, "event_types": ["run.finished"]})
    changed = admin_client.post(f"/webhooks/{endpoint.pk}/", {"url": "https://[::1/hooks",
                                                              "event_types": ["run.finished"], "active": "on"})

    assert created.status_code == 200 and changed.status_code == 200
    assert "The webhook endpoint was not saved: url: Enter a valid URL." in created.content.decode()
    assert "The webhook URL is not a valid URL." in changed.content.decode()
    with tenant_context(firm_a):
        assert list(WebhookEndpoint.objects.values_list("url", flat=True)) == ["https://oms.example.com/hooks"]


def test_the_delivery_log_shows_each_delivery_and_sends_one_again(firm_a, admin_client,
                                                                  django_capture_on_commit_callbacks):
    admin_client.post("/webhooks/", {"url": "https://oms.example.com/hooks", "event_types": ["run.finished"]})
    with tenant_context(firm_a):
        endpoint = WebhookEndpoint.objects.get()
        webhook_emit(EventType.RUN_FINISHED, {"run": 5})
        delivery = WebhookDelivery.objects.get()
        WebhookDelivery.objects.filter(pk=delivery.pk).update(status="failed", attempts=8, response_code=503,
                                                              error="answered 503")

    log = admin_client.get(f"/webhooks/{endpoint.pk}/").content.decode()
    with django_capture_on_commit_callbacks() as queued:
        resent = admin_client.post(f"/webhooks/deliveries/{delivery.pk}/resend/")

    assert "run.finished" in log and str(delivery.event_id) in log and "503" in log and "Failed, gave up" in log
    assert resent.status_code == 302 and len(queued) == 1
    with tenant_context(firm_a):
        assert WebhookDelivery.objects.filter(event_id=delivery.event_id).count() == 2


def test_an_endpoint_is_switched_off_and_changed(firm_a, admin_client):
    # A new secret is a rotation now, with its own button (test_webhook_remove_rotate_pages.py).
    admin_client.post("/webhooks/", {"url": "https://oms.example.com/hooks", "event_types": ["run.finished"]})
    with tenant_context(firm_a):
        endpoint = WebhookEndpoint.objects.get()
    secret = endpoint.secret

    page = admin_client.post(f"/webhooks/{endpoint.pk}/", {"url": endpoint.url, "event_types": ["run.stalled"]})

    endpoint.refresh_from_db()
    assert endpoint.active is False and endpoint.event_types == ["run.stalled"]
    assert endpoint.secret == secret and secret not in page.content.decode()


@pytest.mark.parametrize("role", [FirmRole.PORTFOLIO_MANAGER, FirmRole.ADVISOR, FirmRole.COMPLIANCE])
def test_only_a_firm_admin_opens_the_webhook_pages(firm_a, client_for, firm_user, role):
    client = client_for(firm_a, firm_user(firm_a, f"{role}@a.example", role))

    assert client.get("/webhooks/").status_code == 403
    assert "Webhooks" not in client.get("/").content.decode()


def test_another_firms_endpoint_is_not_found(firm_a, firm_b, admin_client, client_for, firm_user):
    admin_client.post("/webhooks/", {"url": "https://oms.example.com/hooks", "event_types": ["run.finished"]})
    with tenant_context(firm_a):
        endpoint = WebhookEndpoint.objects.get()
    other = client_for(firm_b, firm_user(firm_b, "admin@b.example", FirmRole.FIRM_ADMIN))

    assert other.get(f"/webhooks/{endpoint.pk}/").status_code == 404
