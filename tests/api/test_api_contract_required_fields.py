"""Response components: a field every answer carries is `required`, so a generated client does not type
it Optional; a field that may be null says so. Checked on the served schema, and on real answers."""

import pytest
import yaml
from django_tenants.utils import tenant_context

from tenants.roles import FirmRole

from .conftest import API

pytestmark = pytest.mark.django_db

# The one response field that is truly sometimes absent: a replayed key issue (same Idempotency-Key)
# leaves the token out (rebalancing.api.base._kept).
SOMETIMES_ABSENT = {"ApiKeyIssued": {"token"}, "WebhookEndpointIssued": {"secret"}}


@pytest.fixture
def schema(firm_a, client_for, firm_user) -> dict:
    client = client_for(firm_a, firm_user(firm_a, "reader@a.example"))
    answer = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi")
    assert answer.status_code == 200
    return yaml.safe_load(answer.content)


def _refs(node, found: set) -> set:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                found.add(value.rsplit("/", 1)[-1])
            else:
                _refs(value, found)
    elif isinstance(node, list):
        for value in node:
            _refs(value, found)
    return found


def _response_components(schema: dict) -> set[str]:
    """Components an answer uses, directly or nested; the engine's own JSON Schemas and the error left out."""
    components = schema["components"]["schemas"]
    used = _refs([op.get("responses", {}) for path in schema["paths"].values() for op in path.values()
                  if isinstance(op, dict)], set())
    todo = list(used)
    while todo:
        for name in _refs(components[todo.pop()], set()) - used:
            used.add(name)
            todo.append(name)
    return {name for name in used if not name.startswith("Engine") and name != "Error"}


def test_representative_response_components_require_what_every_answer_carries(schema):
    components = schema["components"]["schemas"]

    # Model fields with a default or blank=True (tax_status, status, description...), nullable ones
    # (resolved_at, limit_price) and the pages' links were optional before.
    for name, fields in {
        "Account": {"tax_status", "cash", "opened_on", "model"},
        "Proposal": {"status", "turnover", "estimated_tax", "revised_from"},
        "Run": {"kind", "status", "total", "started_at", "finished_at"},
        "Order": {"status", "limit_price", "closed_at"},
        "Household": {"managed_as", "filing_status", "template"},
        "Template": {"description", "overridable", "household_parameters"},
        "WebhookDelivery": {"status", "attempts", "response_code"},
        "PaginatedProposalList": {"count", "next", "previous", "results"},
    }.items():
        assert fields <= set(components[name]["required"]), (name, fields - set(components[name]["required"]))


def test_every_response_field_is_required_but_the_ones_an_answer_may_leave_out(schema):
    components = schema["components"]["schemas"]

    optional = {name: sorted(set(components[name].get("properties", {})) - set(components[name].get("required", ())))
                for name in _response_components(schema)}

    assert {name: fields for name, fields in optional.items() if fields} == {
        name: sorted(fields) for name, fields in SOMETIMES_ABSENT.items()}


def test_request_components_keep_their_own_required(schema):
    # The request side is untouched: a field with a default may still be left out of a body.
    components = schema["components"]["schemas"]
    assert "overridable" not in components["TemplateRequest"].get("required", [])
    assert "overridable" in components["Template"]["required"]


def _resolved(node: dict, components: dict) -> dict:
    while "$ref" in node:
        node = components[node["$ref"].rsplit("/", 1)[-1]]
    if len(node.get("allOf", ())) == 1:
        return _resolved(node["allOf"][0], components)
    return node


def _check(value, node: dict, components: dict, where: str, problems: list) -> None:
    """Walk an answer alongside its schema: each object's keys are exactly its required properties,
    and null only where the schema allows it. The engine's own result schemas are not DRF's: skipped."""
    ref = (node.get("allOf") or [node])[0].get("$ref", "")
    if ref.rsplit("/", 1)[-1].startswith("Engine"):
        return
    node = _resolved(node, components)
    if "oneOf" in node:
        if value is None:
            if not any(option.get("type") == "null" for option in node["oneOf"]):
                problems.append(f"{where}: null, not nullable")
            return
        options = [option for option in node["oneOf"] if option.get("type") != "null"]
        if len(options) == 1:
            _check(value, options[0], components, where, problems)
        return
    types = node.get("type")
    types = [types] if isinstance(types, str) else types or []
    if value is None:
        if types and "null" not in types:
            problems.append(f"{where}: null, not nullable")
        return
    if isinstance(value, dict) and "properties" in node:
        required = set(node.get("required", ()))
        if set(value) - required:
            problems.append(f"{where}: present in the answer, not required: {sorted(set(value) - required)}")
        if required - set(value):
            problems.append(f"{where}: required, absent from the answer: {sorted(required - set(value))}")
        for key, item in value.items():
            if key in node["properties"]:
                _check(item, node["properties"][key], components, f"{where}.{key}", problems)
    elif isinstance(value, list) and "items" in node:
        for index, item in enumerate(value):
            _check(item, node["items"], components, f"{where}[{index}]", problems)


def test_real_answers_carry_every_field_their_schema_requires_and_only_those(firm_a, people, book, client_for,
                                                                             schema, api_key):
    from rebalancing.models import Order
    from rebalancing.services.proposals import proposal_approve, proposal_release

    with tenant_context(firm_a):
        released = proposal_release(proposal=proposal_approve(proposal=book["own_proposal"], user=people["advisor"]),
                                    user=people["pm"])
        order = Order.objects.filter(proposal=released).first()
    api_key(firm_a, people["admin"], scopes=["read"])  # an api-keys/ list that is not empty
    client = client_for(firm_a, people["admin"])
    components = schema["components"]["schemas"]
    paths = [
        ("/api/v1/accounts/", "/api/v1/accounts/"), ("/api/v1/accounts/{id}/", f"/api/v1/accounts/{book['own'].pk}/"),
        ("/api/v1/households/", "/api/v1/households/"),
        ("/api/v1/households/{id}/", f"/api/v1/households/{book['own'].household_id}/"),
        ("/api/v1/proposals/", "/api/v1/proposals/"), ("/api/v1/proposals/{id}/", f"/api/v1/proposals/{released.pk}/"),
        ("/api/v1/runs/", "/api/v1/runs/"), ("/api/v1/runs/{id}/", f"/api/v1/runs/{book['run'].pk}/"),
        ("/api/v1/orders/", "/api/v1/orders/"), ("/api/v1/orders/{id}/", f"/api/v1/orders/{order.order_id}/"),
        ("/api/v1/models/", "/api/v1/models/"), ("/api/v1/models/{id}/", f"/api/v1/models/{book['model'].pk}/"),
        ("/api/v1/templates/", "/api/v1/templates/"), ("/api/v1/securities/", "/api/v1/securities/"),
        ("/api/v1/accounts/{id}/lots/", f"/api/v1/accounts/{book['own'].pk}/lots/"),
        ("/api/v1/alerts/", "/api/v1/alerts/"), ("/api/v1/audit-events/", "/api/v1/audit-events/"),
        ("/api/v1/api-keys/", "/api/v1/api-keys/"),
    ]
    problems: list[str] = []
    for template, url in paths:
        answer = client.get(url)
        assert answer.status_code == 200, (url, answer.content[:300])
        node = schema["paths"][template]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        _check(answer.json(), node, components, template, problems)

    assert problems == []


def test_a_replayed_key_issue_leaves_the_token_out_which_is_why_it_stays_optional(firm_a, client_for, firm_user,
                                                                                   schema):
    client = client_for(firm_a, firm_user(firm_a, "admin@a.example", FirmRole.FIRM_ADMIN))
    body = {"name": "feed", "scopes": ["read"]}

    first = client.post(f"{API}/api-keys/", body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = client.post(f"{API}/api-keys/", body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k-1")

    assert "token" in first.json() and "token" not in again.json()
    assert "token" not in schema["components"]["schemas"]["ApiKeyIssued"]["required"]
