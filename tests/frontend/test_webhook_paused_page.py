"""The Webhooks pages show a paused endpoint (its deliveries kept failing for good) with why and since
when and a Resume button; resuming (a firm admin's only) sends to it again and is audited; while it is
paused its deliveries are not offered to be sent again."""

import re

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from rebalancing.models import WebhookDelivery, WebhookEndpoint
from rebalancing.webhooks.events import EventType, webhook_emit
from tenants.audit.models import AuditEvent
from tenants.roles import FirmRole

pytestmark = pytest.mark.django_db
REASON = "20 deliveries in a row failed after every attempt (the last: no answer within 10 s)"


@pytest.fixture
def admin_client(firm_a, client_for, firm_user):
    return client_for(firm_a, firm_user(firm_a, "admin@a.example", FirmRole.FIRM_ADMIN))


@pytest.fixture
def paused(firm_a, admin_client):
    admin_client.post("/webhooks/", {"url": "https://oms.example.com/hooks", "event_types": ["run.finished"]})
    with tenant_context(firm_a):
        webhook_emit(EventType.RUN_FINISHED, {"run": 5})
        WebhookDelivery.objects.update(status=WebhookDelivery.Status.FAILED, attempts=8)
        WebhookEndpoint.objects.update(paused_at=timezone.now(), paused_reason=REASON, failures_in_a_row=20)
        return WebhookEndpoint.objects.get()


def _resume_form(page: str, pk: int) -> bool:
    return bool(re.search(rf'<form method="post"( action="/webhooks/{pk}/")?>[^<]*<input[^>]*>'
                          r'<button type="submit" name="action" value="resume"', page))


def test_the_list_and_the_endpoints_page_say_it_is_paused_why_and_since_when(admin_client, paused):
    listing = admin_client.get("/webhooks/").content.decode()
    page = admin_client.get(f"/webhooks/{paused.pk}/").content.decode()

    since = timezone.localtime(paused.paused_at).strftime("%b %-d, %Y, %H:%M")
    for html in (listing, page):
        assert "Paused" in html and REASON in html and since in html
        assert _resume_form(html, paused.pk)
    assert 'id="paused-note"' in page
    assert "/resend/" not in page  # refused while paused: not offered


def test_resuming_from_the_list_sends_again_and_is_audited(firm_a, admin_client, paused):
    posted = admin_client.post(f"/webhooks/{paused.pk}/", {"action": "resume"})
    page = admin_client.get(posted["Location"]).content.decode()

    assert posted.status_code == 302 and posted["Location"] == f"/webhooks/{paused.pk}/"
    assert "resumed: new events are sent to it again" in page
    assert 'id="paused-note"' not in page and not _resume_form(page, paused.pk) and "/resend/" in page
    with tenant_context(firm_a):
        endpoint = WebhookEndpoint.objects.get()
        assert (endpoint.paused_at, endpoint.paused_reason, endpoint.failures_in_a_row) == (None, "", 0)
        assert AuditEvent.objects.get(action="webhook.endpoint.resume").actor == "admin@a.example"
        assert webhook_emit(EventType.RUN_FINISHED, {"run": 6}) == 1
    again = admin_client.get(admin_client.post(f"/webhooks/{paused.pk}/", {"action": "resume"})["Location"])
    assert "The endpoint is not paused" in again.content.decode()


@pytest.mark.parametrize("role", [FirmRole.PORTFOLIO_MANAGER, FirmRole.ADVISOR, FirmRole.COMPLIANCE])
def test_only_a_firm_admin_resumes(firm_a, client_for, firm_user, paused, role):
    client = client_for(firm_a, firm_user(firm_a, f"{role}@a.example", role))

    assert client.post(f"/webhooks/{paused.pk}/", {"action": "resume"}).status_code == 403
    with tenant_context(firm_a):
        assert WebhookEndpoint.objects.get().paused


def test_another_firms_endpoint_is_not_resumed(firm_a, firm_b, client_for, firm_user, paused):
    other = client_for(firm_b, firm_user(firm_b, "admin@b.example", FirmRole.FIRM_ADMIN))

    assert other.post(f"/webhooks/{paused.pk}/", {"action": "resume"}).status_code == 404
    with tenant_context(firm_a):
        assert WebhookEndpoint.objects.get().paused
