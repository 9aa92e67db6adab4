"""DELETE webhook-endpoints/{id}/ removes an endpoint (its deliveries stop, its log stays readable) and
POST webhook-endpoints/{id}/rotate-secret/ answers a new secret once; both a firm admin's only, audited;
another firm's, an unknown or a removed id is not found."""

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import WebhookDelivery, WebhookEndpoint
from rebalancing.webhooks.events import EventType, webhook_emit
from tenants.audit.models import AuditEvent
from tenants.roles import FirmRole

from .conftest import API, error_of, key_client

pytestmark = pytest.mark.django_db
BODY = {"url": "https://hooks.example.com/rebalancing", "event_types": ["run.finished"]}


@pytest.fixture
def made(firm_a, client_for, people):
    return client_for(firm_a, people["admin"]).post(f"{API}/webhook-endpoints/", BODY,
                                                    content_type="application/json").json()


def test_delete_removes_the_endpoint_and_keeps_its_delivery_log(firm_a, client_for, people, made):
    client = client_for(firm_a, people["admin"])
    with tenant_context(firm_a):
        webhook_emit(EventType.RUN_FINISHED, {"run": 1})

    gone = client.delete(f"{API}/webhook-endpoints/{made['id']}/")

    assert gone.status_code == 204, gone.content
    assert client.get(f"{API}/webhook-endpoints/{made['id']}/").status_code == 404
    assert client.get(f"{API}/webhook-endpoints/").json()["results"] == []
    assert client.delete(f"{API}/webhook-endpoints/{made['id']}/").status_code == 404
    [row] = client.get(f"{API}/webhook-deliveries/?endpoint={made['id']}").json()["results"]
    assert row["status"] == "cancelled" and row["endpoint_url"] == BODY["url"]
    with tenant_context(firm_a):
        assert WebhookEndpoint.objects.get().removed
        audit = AuditEvent.objects.get(action="webhook.endpoint.remove")
        assert audit.actor == "admin@a.example" and audit.after["deliveries_not_sent"] == 1


def test_a_delete_with_a_body_is_refused_and_removes_nothing(firm_a, client_for, people, made):
    answer = client_for(firm_a, people["admin"]).delete(f"{API}/webhook-endpoints/{made['id']}/", {"reason": "x"},
                                                        content_type="application/json")

    assert answer.status_code == 400 and "reason" in answer.json()["detail"]["fields"]
    with tenant_context(firm_a):
        assert not WebhookEndpoint.objects.get().removed


def test_an_unknown_or_another_firms_endpoint_is_not_found(firm_a, firm_b, client_for, firm_user, made):
    other = client_for(firm_b, firm_user(firm_b, "admin@b.example", FirmRole.FIRM_ADMIN))

    answers = [other.delete(f"{API}/webhook-endpoints/{made['id']}/"),
               other.post(f"{API}/webhook-endpoints/{made['id']}/rotate-secret/", content_type="application/json"),
               other.delete(f"{API}/webhook-endpoints/999999/")]

    assert [a.status_code for a in answers] == [404, 404, 404]
    with tenant_context(firm_a):
        endpoint = WebhookEndpoint.objects.get()
        assert not endpoint.removed and endpoint.previous_secret == ""
        assert not AuditEvent.objects.filter(action__in=["webhook.endpoint.remove",
                                                         "webhook.endpoint.secret_rotate"]).exists()


@pytest.mark.parametrize("role", ["pm", "advisor", "compliance"])
def test_only_a_firm_admin_removes_or_rotates(firm_a, client_for, people, made, role):
    client = client_for(firm_a, people[role])

    assert client.delete(f"{API}/webhook-endpoints/{made['id']}/").status_code == 403
    assert client.post(f"{API}/webhook-endpoints/{made['id']}/rotate-secret/",
                       content_type="application/json").status_code == 403


def test_an_api_key_needs_the_admin_scope(firm_a, people, api_key, made):
    reader = key_client(firm_a, api_key(firm_a, people["admin"], scopes=["read"]))

    refused = reader.delete(f"{API}/webhook-endpoints/{made['id']}/")

    assert refused.status_code == 403 and error_of(refused)["code"] == "scope_missing"


def test_rotate_secret_answers_the_new_secret_once(firm_a, client_for, people, made):
    client = client_for(firm_a, people["admin"])

    rotated = client.post(f"{API}/webhook-endpoints/{made['id']}/rotate-secret/", content_type="application/json",
                          HTTP_IDEMPOTENCY_KEY="rotate-1")
    replayed = client.post(f"{API}/webhook-endpoints/{made['id']}/rotate-secret/", content_type="application/json",
                           HTTP_IDEMPOTENCY_KEY="rotate-1")
    read = client.get(f"{API}/webhook-endpoints/{made['id']}/").json()
    with_body = client.post(f"{API}/webhook-endpoints/{made['id']}/rotate-secret/", {"secret": "mine-of-16-chars!"},
                            content_type="application/json")

    assert rotated.status_code == 200, rotated.content
    new = rotated.json()["secret"]
    assert new.startswith("whsec_") and new != made["secret"]
    assert rotated.json()["previous_secret_until"] is not None and made["previous_secret_until"] is None
    assert replayed["Idempotent-Replayed"] == "true" and "secret" not in replayed.json()
    assert "secret" not in read and read["previous_secret_until"] == rotated.json()["previous_secret_until"]
    assert with_body.status_code == 400
    with tenant_context(firm_a):
        endpoint = WebhookEndpoint.objects.get()
        assert (endpoint.secret, endpoint.previous_secret) == (new, made["secret"])
        assert AuditEvent.objects.filter(action="webhook.endpoint.secret_rotate").count() == 1


def test_a_removed_endpoint_is_not_rotated_or_changed(firm_a, client_for, people, made):
    client = client_for(firm_a, people["admin"])
    client.delete(f"{API}/webhook-endpoints/{made['id']}/")

    rotate = client.post(f"{API}/webhook-endpoints/{made['id']}/rotate-secret/", content_type="application/json")
    patch = client.patch(f"{API}/webhook-endpoints/{made['id']}/", {"active": True}, content_type="application/json")

    assert (rotate.status_code, patch.status_code) == (404, 404)
    with tenant_context(firm_a):
        assert not WebhookEndpoint.objects.get().active
        assert not WebhookDelivery.objects.exists()
