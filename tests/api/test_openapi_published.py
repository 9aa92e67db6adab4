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


def _has_file(schema: dict, components: dict) -> bool:
    if "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[1]]
    return any(p.get("format") == "binary" or p.get("contentMediaType") == "application/octet-stream"
               for p in schema.get("properties", {}).values())


def test_each_body_is_offered_only_in_the_content_types_it_is_accepted_in(firm_a, client_for, firm_user):
    schema = yaml.safe_load(_served(client_for(firm_a, firm_user(firm_a, "reader@a.example"))))
    components = schema["components"]["schemas"]

    offered = {operation["operationId"]: operation["requestBody"]["content"]
               for path in schema["paths"].values() for operation in path.values()
               if isinstance(operation, dict) and "requestBody" in operation}

    # A file travels as multipart and only there; every other body is JSON and only JSON.
    for operation_id, content in offered.items():
        assert set(content) <= {"application/json", "multipart/form-data"}, operation_id
        if "multipart/form-data" in content:
            assert _has_file(content["multipart/form-data"]["schema"], components), operation_id
        if "application/json" in content:
            assert not _has_file(content["application/json"]["schema"], components), operation_id
    uploads = {op: sorted(content) for op, content in offered.items() if "multipart/form-data" in content}
    assert uploads["imports_create"] == uploads["executions_create"] == ["application/json", "multipart/form-data"]
    assert uploads["reconciliations_create"] == ["multipart/form-data"]
    assert sum(content == {"application/json": content.get("application/json")}
               for content in offered.values()) >= 20
    operation_ids = {operation["operationId"] for path in schema["paths"].values() for operation in path.values()
                     if isinstance(operation, dict)}
    assert {"proposals_approve", "proposals_release", "runs_cancel", "api_keys_revoke",
            "webhook_deliveries_resend", "models_versions_create"} <= operation_ids


def test_a_body_sent_as_a_form_is_refused_where_json_is_expected(firm_a, client_for, firm_user):
    from tenants.roles import FirmRole

    client = client_for(firm_a, firm_user(firm_a, "admin@a.example", FirmRole.FIRM_ADMIN))

    answer = client.post("/api/v1/runs/", {"scope": "firm"})  # multipart, the test client's default

    assert answer.status_code == 415
    assert answer.json()["code"] == "unsupported_media_type"


def test_component_names_and_operation_ids_are_readable(firm_a, client_for, firm_user):
    import re

    schema = yaml.safe_load(_served(client_for(firm_a, firm_user(firm_a, "reader@a.example"))))
    operation_ids = [operation["operationId"] for path in schema["paths"].values() for operation in path.values()
                     if isinstance(operation, dict)]

    # drf-spectacular names a colliding enum with a hash ("KindBb5Enum"): ENUM_NAME_OVERRIDES names it.
    assert [name for name in schema["components"]["schemas"] if re.search(r"[a-z][A-F0-9][a-f0-9]{2}Enum$", name)] == []
    assert len(operation_ids) == len(set(operation_ids))
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", op) for op in operation_ids), operation_ids
    assert not [op for op in operation_ids if op.endswith(("_approve_create", "_release_create", "_revoke_create"))]


def test_the_31_document_uses_no_30_keyword():
    # "nullable" is OpenAPI 3.0; in 3.1 (JSON Schema) null is a type, and a strict validator refused
    # a last page's "next": null against "type: string, nullable: true"
    document = yaml.safe_load(PUBLISHED.read_text())
    assert document["openapi"].startswith("3.1")
    assert "nullable:" not in PUBLISHED.read_text()
    assert document["components"]["schemas"]["PaginatedAccountList"]["properties"]["next"]["type"] == ["string", "null"]


def test_every_get_states_its_etag_and_its_not_modified_answer():
    schema = yaml.safe_load(PUBLISHED.read_text())
    gets = [(path, op) for path, item in schema["paths"].items() for method, op in item.items() if method == "get"]
    assert len(gets) > 20
    for path, op in gets:
        assert "304" in op["responses"], path
        assert any(p["name"] == "If-None-Match" and p["in"] == "header" for p in op["parameters"]), path
        assert all("ETag" in r.get("headers", {}) for s, r in op["responses"].items() if s.startswith("2")), path
