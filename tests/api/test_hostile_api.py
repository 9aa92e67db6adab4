"""Hostile bodies for the API's writes: each is refused naming the field and the value, and nothing
is written (docs/api.md, "Errors")."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import tenant_context

from rebalancing.models import (
    ParameterTemplate,
    Price,
    RebalanceRun,
    RiskModelEstimate,
    Security,
    WebhookDelivery,
)
from rebalancing.webhooks.events import EventType, webhook_emit
from tenants.api_keys.models import ApiKey

from .conftest import API, error_of, key_client

pytestmark = pytest.mark.django_db
JSON = {"content_type": "application/json"}


# --- imports/ as JSON rows ---------------------------------------------------------------------


def test_a_json_row_that_gives_no_value_is_named_not_skipped_as_a_blank_line(firm_a, people, book, client_for):
    # Given three price rows, the middle one all nulls (a serializer that lost its values)
    rows = [{"symbol": "VTI", "date": "2026-11-19", "close": "101.5"},
            {"symbol": None, "date": None, "close": None},
            {"symbol": "BND", "date": "2026-11-19", "close": "99"}]
    with tenant_context(firm_a):
        before = Price.objects.count()

    # When they are imported
    answer = client_for(firm_a, people["pm"]).post(f"{API}/imports/", {"kind": "prices", "rows": rows}, **JSON)

    # Then the empty row is named by its index (it became a blank CSV line, which the import skips,
    # and the answer was 201 for 2 rows of 3), and nothing is written
    body = error_of(answer)
    assert answer.status_code == 400 and body["code"] == "import_rejected"
    assert [(p["index"], p["column"], p["problem"]) for p in body["detail"]["problems"]] == [
        (1, None, "the row gives no value (every column is missing, null or empty)")]
    with tenant_context(firm_a):
        assert Price.objects.count() == before


def test_a_json_row_of_only_an_account_number_still_empties_the_account(firm_a, people, book, client_for):
    number = book["own"].custodian_number

    answer = client_for(firm_a, people["pm"]).post(
        f"{API}/imports/", {"kind": "lots", "as_of": "2026-11-20",
                            "rows": [{"account_number": number, "lot_id": None, "symbol": "", "quantity": None,
                                      "cost_basis": None, "acquired": None}]}, **JSON)

    assert answer.status_code == 201, answer.content
    assert answer.json()["rows"] == 0 and answer.json()["deleted"] > 0


def test_a_json_cell_with_a_line_break_is_refused_naming_it(firm_a, people, book, client_for):
    rows = [{"symbol": "NEWQ\nX", "name": "New", "asset_class": "us_equity"}]

    answer = client_for(firm_a, people["pm"]).post(f"{API}/imports/", {"kind": "securities", "rows": rows}, **JSON)

    body = error_of(answer)
    assert [(p["index"], p["column"], p["problem"]) for p in body["detail"]["problems"]] == [
        (0, "symbol", "'NEWQ\\nX' contains a line break (U+000A), which cannot be seen; remove it")]
    with tenant_context(firm_a):
        assert not Security.objects.filter(symbol__startswith="NEWQ").exists()


def test_a_semicolon_separated_upload_is_named_as_such(firm_a, people, client_for):
    upload = SimpleUploadedFile("sec.csv", b"symbol;name;asset_class\nNEWS;New;us_equity\n", "text/csv")

    answer = client_for(firm_a, people["admin"]).post(f"{API}/imports/", {"kind": "securities", "file": upload})

    body = error_of(answer)
    assert [(p["row"], p["column"], p["problem"]) for p in body["detail"]["problems"]] == [
        (1, None, "the columns are separated by semicolons, not commas; save the file as CSV (comma-separated)")]


# --- templates/: read-only fields --------------------------------------------------------------


@pytest.mark.parametrize(("field", "value", "stored"), [("code", "renamed", "'{code}'"), ("id", 987654321, "{pk}")])
def test_a_patch_that_changes_a_read_only_field_is_refused_not_answered_200(
        firm_a, people, book, client_for, field, value, stored):
    # Given the book's template
    template = book["template"]

    # When a PATCH gives it another code (or id), along with a name
    answer = client_for(firm_a, people["admin"]).patch(f"{API}/templates/{template.pk}/",
                                                       {field: value, "name": "Renamed"}, **JSON)

    # Then it is refused naming the field and what it is (it answered 200 with the old code, so the
    # caller believed the template renamed), and the name is not changed either
    body = error_of(answer)
    assert answer.status_code == 400 and body["code"] == "invalid"
    shown = stored.format(code=template.code, pk=template.pk)
    assert body["detail"]["fields"] == {field: [f"cannot be changed (it is {shown}); leave it out or send it as it is"]}
    with tenant_context(firm_a):
        assert ParameterTemplate.objects.get(pk=template.pk).name == template.name


def test_a_template_put_back_with_its_own_code_and_id_is_accepted(firm_a, people, book, client_for):
    client = client_for(firm_a, people["admin"])
    template = client.get(f"{API}/templates/{book['template'].pk}/").json()

    answer = client.put(f"{API}/templates/{template['id']}/", {**template, "id": str(template["id"]),
                                                                "name": "Renamed"}, **JSON)

    assert answer.status_code == 200, answer.content
    assert (answer.json()["code"], answer.json()["name"]) == (template["code"], "Renamed")


# --- Actions that take no body -----------------------------------------------------------------


def test_a_field_sent_to_an_estimate_is_refused_and_nothing_is_queued(firm_a, people, book, client_for):
    # Given an integrator who thinks an estimate can be asked for one benchmark
    answer = client_for(firm_a, people["pm"]).post(f"{API}/risk-models/estimate/", {"benchmark": "NOPE"}, **JSON)

    # Then the field is named (it answered 202 and estimated the firm's whole risk model)
    body = error_of(answer)
    assert answer.status_code == 400
    assert body["detail"]["fields"] == {"benchmark": ["is not a field of this request; it takes no body."]}
    with tenant_context(firm_a):
        assert not RiskModelEstimate.objects.exists()


def test_a_cancel_with_a_reason_is_refused_and_the_run_goes_on(firm_a, people, book, client_for):
    client = client_for(firm_a, people["pm"])
    run = client.post(f"{API}/runs/", {"scope": {"firm": True}}, **JSON).json()

    refused = client.post(f"{API}/runs/{run['id']}/cancel/", {"reason": "wrong day"}, **JSON)
    listed = client.post(f"{API}/runs/{run['id']}/cancel/", ["wrong day"], **JSON)
    cancelled = client.post(f"{API}/runs/{run['id']}/cancel/", {}, **JSON)

    assert refused.status_code == 400
    assert error_of(refused)["detail"]["fields"] == {"reason": ["is not a field of this request; it takes no body."]}
    assert listed.status_code == 400
    assert error_of(listed)["detail"]["fields"] == {"non_field_errors": ["This request takes no body."]}
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    with tenant_context(firm_a):
        assert RebalanceRun.objects.get(pk=run["id"]).status == "cancelled"


def test_a_revoke_with_a_body_is_refused_and_the_key_still_works(firm_a, people, client_for, api_key):
    token = api_key(firm_a, people["admin"])
    with tenant_context(firm_a):
        key = ApiKey.objects.get(prefix=token.split("_")[1])
    client = client_for(firm_a, people["admin"])

    refused = client.post(f"{API}/api-keys/{key.pk}/revoke/", {"expires_at": "2030-01-01T00:00:00Z"}, **JSON)

    assert refused.status_code == 400 and "expires_at" in error_of(refused)["detail"]["fields"]
    assert key_client(firm_a, token).get(f"{API}/accounts/").status_code == 200
    assert client.post(f"{API}/api-keys/{key.pk}/revoke/", **JSON).status_code == 200


def test_a_resend_to_another_url_is_refused_and_nothing_is_sent(firm_a, people, client_for,
                                                                django_capture_on_commit_callbacks):
    # Given a delivery of an endpoint
    client = client_for(firm_a, people["admin"])
    client.post(f"{API}/webhook-endpoints/", {"url": "https://hooks.example.com/rebalancing",
                                              "event_types": ["run.finished"]}, **JSON)
    with tenant_context(firm_a):
        webhook_emit(EventType.RUN_FINISHED, {"run": 1, "done": 2})
        delivery = WebhookDelivery.objects.get()

    # When it is re-sent with a body asking for another URL
    with django_capture_on_commit_callbacks() as queued:
        answer = client.post(f"{API}/webhook-deliveries/{delivery.pk}/resend/",
                             {"url": "https://elsewhere.example.com/"}, **JSON)

    # Then the field is named, and no second delivery is made (it went to the endpoint's URL)
    assert answer.status_code == 400
    assert error_of(answer)["detail"]["fields"] == {"url": ["is not a field of this request; it takes no body."]}
    assert not queued
    with tenant_context(firm_a):
        assert WebhookDelivery.objects.count() == 1
