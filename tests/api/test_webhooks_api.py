"""Webhook endpoints and the delivery log over the API: a firm admin's business only; the secret is
answered once; bad input names the problem and writes nothing; other firms' objects are not found."""

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import WebhookDelivery, WebhookEndpoint
from rebalancing.webhooks.events import EventType, webhook_emit
from tenants.audit.models import AuditEvent

from .conftest import API, error_of, key_client

pytestmark = pytest.mark.django_db
BODY = {"url": "https://hooks.example.com/rebalancing", "event_types": ["run.finished", "orders.released"],
        "description": "order management system"}


def test_a_firm_admin_registers_an_endpoint_and_sees_the_secret_once(firm_a, client_for, people):
    client = client_for(firm_a, people["admin"])

    made = client.post(f"{API}/webhook-endpoints/", BODY, content_type="application/json")
    listed = client.get(f"{API}/webhook-endpoints/")
    read = client.get(f"{API}/webhook-endpoints/{made.json()['id']}/")

    assert made.status_code == 201, made.content
    secret = made.json()["secret"]
    assert secret.startswith("whsec_") and len(secret) > 40
    assert made.json()["event_types"] == ["run.finished", "orders.released"]
    assert "secret" not in listed.json()["results"][0] and "secret" not in read.json()
    assert read.json()["secret_hint"] == secret[:10] + "…"
    with tenant_context(firm_a):
        assert WebhookEndpoint.objects.get().secret == secret
        audit = AuditEvent.objects.get(action="webhook.endpoint.create")
        assert "secret" not in audit.after and audit.actor == "admin@a.example"


def test_a_given_secret_is_kept_and_an_endpoint_is_changed_and_switched_off(firm_a, client_for, people):
    client = client_for(firm_a, people["admin"])
    made = client.post(f"{API}/webhook-endpoints/", BODY | {"secret": "my-own-secret-of-24-chars"},
                       content_type="application/json").json()

    changed = client.patch(f"{API}/webhook-endpoints/{made['id']}/", {"active": False, "event_types": ["run.stalled"]},
                           content_type="application/json")

    assert made["secret"] == "my-own-secret-of-24-chars"
    assert changed.status_code == 200 and changed.json()["active"] is False
    assert changed.json()["event_types"] == ["run.stalled"]


@pytest.mark.parametrize(("body", "field", "words"), [
    (BODY | {"url": "ftp://hooks.example.com/"}, "url", "http:// or https://"),
    (BODY | {"url": "http://169.254.169.254/latest/"}, "url", "private or reserved"),
    (BODY | {"event_types": ["run.exploded"]}, "event_types", "run.exploded"),
    (BODY | {"event_types": []}, "event_types", ""),
    (BODY | {"secret": "short"}, "secret", "16 to 200 characters"),
])
def test_bad_input_is_refused_naming_the_problem_and_writes_nothing(firm_a, client_for, people, settings,
                                                                      body, field, words):
    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = False
    answer = client_for(firm_a, people["admin"]).post(f"{API}/webhook-endpoints/", body,
                                                      content_type="application/json")

    assert answer.status_code == 400
    error = error_of(answer)
    assert field in str(error["detail"]) and words in error["message"] + str(error["detail"])
    with tenant_context(firm_a):
        assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize("url", [
    "https://" + "h" * 300 + ".example/hooks",  # a host over 253 characters
    "https://" + "h" * 70 + ".example/hooks",  # a label over 63
    "https://hooks example.com/",
    "https://hooks.example.com/a b",
    "https://[::1/hooks",  # an unclosed IPv6 bracket
])
def test_a_url_the_url_validator_refuses_is_named_not_a_server_error(firm_a, client_for, people, url):
    client = client_for(firm_a, people["admin"])
    made = client.post(f"{API}/webhook-endpoints/", BODY, content_type="application/json").json()

    created = client.post(f"{API}/webhook-endpoints/", BODY | {"url": url}, content_type="application/json")
    changed = client.patch(f"{API}/webhook-endpoints/{made['id']}/", {"url": url}, content_type="application/json")

    for answer in (created, changed):
        assert answer.status_code == 400, answer.content
        error = error_of(answer)
        assert error["detail"]["field"] == "url"
        assert "url: Enter a valid URL." in error["message"] or error["message"] == "The webhook URL is not a valid URL."
    with tenant_context(firm_a):
        assert list(WebhookEndpoint.objects.values_list("url", flat=True)) == [BODY["url"]]
        assert AuditEvent.objects.filter(action__startswith="webhook.endpoint").count() == 1


@pytest.mark.parametrize("role", ["pm", "advisor", "compliance"])
def test_only_a_firm_admin_manages_webhooks(firm_a, client_for, people, role):
    client = client_for(firm_a, people[role])

    assert client.get(f"{API}/webhook-endpoints/").status_code == 403
    assert client.post(f"{API}/webhook-endpoints/", BODY, content_type="application/json").status_code == 403
    assert client.get(f"{API}/webhook-deliveries/").status_code == 403


def test_an_api_key_needs_the_admin_scope(firm_a, people, api_key):
    reader = key_client(firm_a, api_key(firm_a, people["admin"], scopes=["read"]))
    admin = key_client(firm_a, api_key(firm_a, people["admin"], scopes=["read", "admin"]))

    refused = reader.post(f"{API}/webhook-endpoints/", BODY, content_type="application/json")
    made = admin.post(f"{API}/webhook-endpoints/", BODY, content_type="application/json")

    assert refused.status_code == 403 and error_of(refused)["code"] == "scope_missing"
    assert made.status_code == 201


def test_another_firms_endpoint_and_delivery_are_not_found(firm_a, firm_b, client_for, people, firm_user):
    from tenants.roles import FirmRole

    made = client_for(firm_a, people["admin"]).post(f"{API}/webhook-endpoints/", BODY,
                                                    content_type="application/json").json()
    with tenant_context(firm_a):
        webhook_emit(EventType.RUN_FINISHED, {"run": 1})
        delivery = WebhookDelivery.objects.get()
    other = client_for(firm_b, firm_user(firm_b, "admin@b.example", FirmRole.FIRM_ADMIN))

    assert other.get(f"{API}/webhook-endpoints/{made['id']}/").status_code == 404
    assert other.get(f"{API}/webhook-endpoints/").json()["results"] == []
    assert other.get(f"{API}/webhook-deliveries/{delivery.pk}/").status_code == 404
    assert other.post(f"{API}/webhook-deliveries/{delivery.pk}/resend/",
                      content_type="application/json").status_code == 404


def test_the_delivery_log_lists_and_resends(firm_a, client_for, people, django_capture_on_commit_callbacks):
    client = client_for(firm_a, people["admin"])
    made = client.post(f"{API}/webhook-endpoints/", BODY, content_type="application/json").json()
    with tenant_context(firm_a):
        webhook_emit(EventType.RUN_FINISHED, {"run": 1, "done": 2})
        delivery = WebhookDelivery.objects.get()

    listed = client.get(f"{API}/webhook-deliveries/?endpoint={made['id']}")
    with django_capture_on_commit_callbacks() as queued:
        resent = client.post(f"{API}/webhook-deliveries/{delivery.pk}/resend/", content_type="application/json",
                             HTTP_IDEMPOTENCY_KEY="resend-1")
        retried = client.post(f"{API}/webhook-deliveries/{delivery.pk}/resend/", content_type="application/json",
                              HTTP_IDEMPOTENCY_KEY="resend-1")
    bad_filter = client.get(f"{API}/webhook-deliveries/?endpoint=x")

    [row] = listed.json()["results"]
    assert row["event_type"] == "run.finished" and row["payload"] == {"run": 1, "done": 2}
    assert row["resent_by"] is None  # the schema says so (nullable)
    assert retried["Idempotent-Replayed"] == "true" and retried.json() == resent.json()
    with tenant_context(firm_a):
        assert WebhookDelivery.objects.count() == 2  # the retry sent nothing again
    assert row["status"] == "pending" and row["event_id"] == str(delivery.event_id)
    assert resent.status_code == 201 and resent.json()["event_id"] == str(delivery.event_id)
    assert resent.json()["resent_from"] == delivery.pk and len(queued) == 1
    assert bad_filter.status_code == 400


def test_the_hint_of_a_short_secret_given_by_the_firm_shows_a_quarter_of_it_not_ten_characters(
        firm_a, client_for, people):
    client = client_for(firm_a, people["admin"])
    given = "k3Y-of-16-chars!"  # the shortest secret accepted

    made = client.post(f"{API}/webhook-endpoints/", BODY | {"secret": given}, content_type="application/json").json()
    hints = {client.get(f"{API}/webhook-endpoints/{made['id']}/").json()["secret_hint"],
             client.get(f"{API}/webhook-endpoints/").json()["results"][0]["secret_hint"]}

    assert hints == {"k3Y-…"}
