"""Bodies with a field the endpoint does not have (a typo, a field of another version): refused with
400 ``invalid`` naming the field, nothing done. DRF would drop it silently, so a misspelt filter of a
run's scope widened it to the whole firm."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import tenant_context

from rebalancing.models import CashFlow, ParameterTemplate, Price, RebalanceRun, WebhookEndpoint

from .conftest import API, error_of

pytestmark = pytest.mark.django_db


def _refused(answer, path: list[str]) -> None:
    body = error_of(answer)
    assert answer.status_code == 400 and body["code"] == "invalid", body
    fields = body["detail"]["fields"]
    for name in path[:-1]:
        fields = fields[name]
    assert list(fields) == [path[-1]] and "is not a field of this request" in fields[path[-1]][0]


def test_a_misspelt_scope_filter_does_not_start_a_run_of_the_whole_firm(firm_a, people, book, client_for):
    client = client_for(firm_a, people["pm"])
    with tenant_context(firm_a):
        runs = RebalanceRun.objects.count()

    answer = client.post(f"{API}/runs/", {"scope": {"firm": True, "min_drfit": 0.05}}, content_type="application/json")
    top = client.post(f"{API}/runs/", {"scope": {"firm": True}, "asof": "2026-11-20"}, content_type="application/json")

    _refused(answer, ["scope", "min_drfit"])
    _refused(top, ["asof"])
    with tenant_context(firm_a):
        assert RebalanceRun.objects.count() == runs


def test_an_unknown_field_of_a_cash_flow_template_or_webhook_is_named_and_nothing_is_written(
        firm_a, people, book, client_for):
    admin, pm = client_for(firm_a, people["admin"]), client_for(firm_a, people["pm"])
    with tenant_context(firm_a):
        before = [CashFlow.objects.count(), ParameterTemplate.objects.count(), WebhookEndpoint.objects.count()]

    flow = pm.post(f"{API}/cash-flows/", {"household": book["own"].household_id, "kind": "deposit", "amount": "5",
                                          "account": book["own"].pk, "referense": "R-1"},
                   content_type="application/json")
    template = admin.post(f"{API}/templates/", {"code": "t-new", "name": "New", "parameters": {},
                                                "overrideable": {"cash.target": {"min": 0, "max": 1}}},
                          content_type="application/json")
    hook = admin.post(f"{API}/webhook-endpoints/", {"url": "https://hooks.example.com/r", "event_types": ["run.finished"],
                                                    "secrett": "s" * 20}, content_type="application/json")
    # The proposal's advisor: anyone else is refused (403) before the body is read.
    edit = client_for(firm_a, people["advisor"]).post(
        f"{API}/proposals/{book['own_proposal'].pk}/revise/",
        {"instructions": [{"action": "raise_cash", "amount": "10", "amout": "20"}]}, content_type="application/json")

    _refused(flow, ["referense"])
    _refused(template, ["overrideable"])
    _refused(hook, ["secrett"])
    assert "s" * 20 not in hook.content.decode()  # a secret sent under a wrong name is not echoed
    _refused(edit, ["instructions", "0", "amout"])
    with tenant_context(firm_a):
        assert [CashFlow.objects.count(), ParameterTemplate.objects.count(), WebhookEndpoint.objects.count()] == before


def test_an_unknown_form_field_of_an_upload_is_named(firm_a, people, book, client_for):
    with tenant_context(firm_a):
        prices = Price.objects.count()

    answer = client_for(firm_a, people["pm"]).post(f"{API}/imports/", {
        "kind": "prices", "as_off": "2026-11-20",
        "file": SimpleUploadedFile("p.csv", b"symbol,date,close\nVTI,2026-11-20,101\n", "text/csv")})

    _refused(answer, ["as_off"])
    with tenant_context(firm_a):
        assert Price.objects.count() == prices


def test_a_template_read_back_with_its_read_only_fields_is_accepted(firm_a, people, book, client_for):
    admin = client_for(firm_a, people["admin"])
    read = admin.get(f"{API}/templates/{book['template'].pk}/").json()

    answer = admin.put(f"{API}/templates/{book['template'].pk}/", {**read, "name": "Renamed"},
                       content_type="application/json")

    assert answer.status_code == 200, answer.content
    assert answer.json()["name"] == "Renamed"


def test_the_published_schema_says_request_bodies_take_no_other_fields(firm_a, people, client_for):
    schema = client_for(firm_a, people["admin"]).get(f"{API}/schema/", HTTP_ACCEPT="application/json").json()

    components = schema["components"]["schemas"]
    for name in ("RunStartRequest", "RunScopeRequest", "CashFlowInRequest", "WebhookEndpointCreateRequest",
                 "ImportJsonRequest", "ImportFileRequest", "InstructionInRequest"):
        assert components[name]["additionalProperties"] is False, name
