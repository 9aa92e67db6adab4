"""docs/openapi.yaml is the schema the API serves, byte for byte: a change to the API that is not
regenerated fails here (the command is in docs/integrations.md)."""

from pathlib import Path

import yaml

PUBLISHED = Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"
REGENERATE = ("DJANGO_SETTINGS_MODULE=config.settings.test .venv/bin/python manage.py spectacular "
              "--urlconf config.urls --file docs/openapi.yaml")


def _served(client) -> str:
    answer = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi")
    assert answer.status_code == 200, answer.content[:500]
    return answer.content.decode()


def test_the_published_schema_is_the_served_one(firm_a, client_for, firm_user):
    served = _served(client_for(firm_a, firm_user(firm_a, "reader@a.example")))

    assert yaml.safe_load(PUBLISHED.read_text()) == yaml.safe_load(served), (
        f"docs/openapi.yaml differs from the served schema; regenerate it: {REGENERATE}")
    assert PUBLISHED.read_text() == served, f"docs/openapi.yaml is not as generated; regenerate it: {REGENERATE}"


def test_each_body_is_offered_only_in_the_content_types_it_is_accepted_in(firm_a, client_for, firm_user):
    schema = yaml.safe_load(_served(client_for(firm_a, firm_user(firm_a, "reader@a.example"))))

    offered = {operation["operationId"]: sorted(operation["requestBody"]["content"])
               for path in schema["paths"].values() for operation in path.values()
               if isinstance(operation, dict) and "requestBody" in operation}

    uploads = {"imports_create": ["application/json", "multipart/form-data"],
               "executions_create": ["application/json", "multipart/form-data"],
               "reconciliations_create": ["multipart/form-data"],
               "cash_flows_upload_create": ["multipart/form-data"]}
    assert {op: types for op, types in offered.items() if op in uploads} == uploads
    assert {op: types for op, types in offered.items() if op not in uploads} == {
        op: ["application/json"] for op in offered if op not in uploads}
    assert {"proposals_approve", "proposals_release", "runs_cancel", "api_keys_revoke"} <= {
        operation["operationId"] for path in schema["paths"].values() for operation in path.values()
        if isinstance(operation, dict)}


def test_a_body_sent_as_a_form_is_refused_where_json_is_expected(firm_a, client_for, firm_user):
    from tenants.roles import FirmRole

    client = client_for(firm_a, firm_user(firm_a, "admin@a.example", FirmRole.FIRM_ADMIN))

    answer = client.post("/api/v1/runs/", {"scope": "firm"})  # multipart, the test client's default

    assert answer.status_code == 415
    assert answer.json()["code"] == "unsupported_media_type"
