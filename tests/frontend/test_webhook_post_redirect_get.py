"""Registering a webhook endpoint and rotating its secret answer with a redirect to the endpoint's
page (post/redirect/get): that GET shows the new secret once, and reloading it (F5) neither shows the
secret again nor registers or rotates again, so the secret a rotation replaced keeps its grace."""

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import WebhookEndpoint
from tenants.audit.models import AuditEvent
from tenants.roles import FirmRole

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(firm_a, client_for, firm_user):
    return client_for(firm_a, firm_user(firm_a, "admin@a.example", FirmRole.FIRM_ADMIN))


def _register(admin_client):
    return admin_client.post("/webhooks/", {"url": "https://oms.example.com/hooks", "event_types": ["run.finished"]})


def test_registering_redirects_to_the_endpoint_page_which_shows_the_secret_once(firm_a, admin_client):
    posted = _register(admin_client)
    with tenant_context(firm_a):
        endpoint = WebhookEndpoint.objects.get()

    first = admin_client.get(posted["Location"])
    reload = admin_client.get(posted["Location"])
    listing = admin_client.get("/webhooks/")

    assert posted.status_code == 302 and posted["Location"] == f"/webhooks/{endpoint.pk}/"
    assert first.status_code == 200 and reload.status_code == 200
    assert first.content.decode().count(endpoint.secret) == 1 and 'data-testid="webhook-secret"' in first.content.decode()
    assert "Endpoint https://oms.example.com/hooks registered." in first.content.decode()
    assert endpoint.secret not in reload.content.decode() and 'id="issued-secret"' not in reload.content.decode()
    assert endpoint.secret not in listing.content.decode()
    with tenant_context(firm_a):
        assert WebhookEndpoint.objects.count() == 1


def test_rotating_redirects_and_a_reload_rotates_nothing(firm_a, admin_client):
    _register(admin_client)
    with tenant_context(firm_a):
        endpoint = WebhookEndpoint.objects.get()
    admin_client.get(f"/webhooks/{endpoint.pk}/")  # the registration's showing, done with
    first_secret = endpoint.secret
    admin_client.post(f"/webhooks/{endpoint.pk}/", {"action": "rotate"})
    admin_client.get(f"/webhooks/{endpoint.pk}/")
    endpoint.refresh_from_db()
    before = (endpoint.secret, endpoint.previous_secret, endpoint.previous_secret_until)
    assert endpoint.previous_secret == first_secret

    posted = admin_client.post(f"/webhooks/{endpoint.pk}/", {"action": "rotate"})
    endpoint.refresh_from_db()
    rotated = (endpoint.secret, endpoint.previous_secret, endpoint.previous_secret_until)
    first = admin_client.get(posted["Location"]).content.decode()
    reload = admin_client.get(posted["Location"]).content.decode()
    again = admin_client.get(posted["Location"]).content.decode()

    endpoint.refresh_from_db()
    assert posted.status_code == 302 and posted["Location"] == f"/webhooks/{endpoint.pk}/"
    assert rotated != before and rotated[1] == before[0]
    assert (endpoint.secret, endpoint.previous_secret, endpoint.previous_secret_until) == rotated
    assert first.count(endpoint.secret) == 1 and "New secret made." in first
    assert endpoint.secret not in reload and endpoint.secret not in again and 'id="issued-secret"' not in reload
    with tenant_context(firm_a):
        assert AuditEvent.objects.filter(action="webhook.endpoint.secret_rotate").count() == 2


def test_a_refused_registration_is_shown_on_the_post_and_writes_nothing(firm_a, admin_client, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = False

    page = admin_client.post("/webhooks/", {"url": "http://10.0.0.8/hooks", "event_types": ["run.finished"]})

    assert page.status_code == 200 and "may not point at a private or reserved address" in page.content.decode()
    with tenant_context(firm_a):
        assert not WebhookEndpoint.objects.exists()


def test_a_secret_waiting_for_one_endpoint_is_not_shown_on_another(firm_a, admin_client):
    _register(admin_client)
    admin_client.post("/webhooks/", {"url": "https://crm.example.com/hooks", "event_types": ["run.finished"]})
    with tenant_context(firm_a):
        first, second = WebhookEndpoint.objects.order_by("pk")

    other = admin_client.get(f"/webhooks/{second.pk}/").content.decode()
    own = admin_client.get(f"/webhooks/{first.pk}/").content.decode()

    assert first.secret not in other and second.secret in other
    assert first.secret in own
