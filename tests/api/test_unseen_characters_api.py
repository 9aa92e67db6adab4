"""Text the API is sent is refused when it holds a character that cannot be seen (a control, a zero-width
or bidi format character), as the CSV imports refuse it: the answer names the field, the character and
its position, and nothing is written (serializers/strict.py). Comments and descriptions keep their line
breaks; one-line text (names, codes, symbols, references) does not."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context
from drf_spectacular.generators import SchemaGenerator
from rest_framework import serializers

from rebalancing.api.serializers.strict import UnknownFieldsRefused
from rebalancing.models import (
    CashFlow,
    ModelPortfolio,
    ParameterTemplate,
    Proposal,
    ProposalApproval,
    WebhookEndpoint,
)
from tenants.audit.models import AuditEvent

from .conftest import API, error_of

pytestmark = pytest.mark.django_db
JSON = {"content_type": "application/json"}
UNTYPED = type(serializers.DictField().child)
ZERO_WIDTH = "contains zero width space (U+200B) at position 3, which cannot be seen; remove it."


# --- Every writable endpoint's text fields, found from the serializers its schema names ------------


def _writes() -> list[tuple[str, type]]:
    """(``"POST /api/v1/proposals/{id}/reject/"``, its request serializer) for every write with a body."""
    generator = SchemaGenerator(urlconf="config.urls")
    generator._initialise_endpoints()
    found = []
    for path, _regex, method, view in generator._get_paths_and_endpoints():
        if method in ("GET", "HEAD", "OPTIONS", "DELETE"):
            continue
        bodies = view.schema.get_request_serializer()
        for body in (bodies.values() if isinstance(bodies, dict) else [bodies]):
            if isinstance(body, type) and issubclass(body, serializers.BaseSerializer):
                found.append((f"{method} {path}", body))
    return found


def _text_paths(serializer, steps=()):
    """Each writable text field as (steps into a body, multi-line?): ``("instructions", 0, "symbol")``;
    a typed dict's key is the step ``KEY``."""
    for name, field in serializer.fields.items():
        if not field.read_only:
            yield from _field_paths(field, (*steps, name))


KEY = object()


def _field_paths(field, steps):
    if isinstance(field, serializers.ListSerializer):
        yield from _text_paths(field.child, (*steps, 0))
    elif isinstance(field, serializers.Serializer):
        yield from _text_paths(field, steps)
    elif isinstance(field, serializers.ListField):
        yield from _field_paths(field.child, (*steps, 0))
    elif isinstance(field, serializers.DictField) and type(field.child) is not UNTYPED:
        yield (*steps, KEY), False
        yield from _field_paths(field.child, (*steps, "1"))
    elif isinstance(field, serializers.CharField):
        yield steps, field.style.get("base_template") == "textarea.html"


def _label(steps) -> str:
    return "".join("[]" if s == 0 else "{key}" if s is KEY else "{'1'}" if s == "1" else f".{s}" for s in steps)[1:]


def _body(steps, text: str):
    """A body that carries ``text`` at ``steps`` and nothing else."""
    step, rest = steps[0], steps[1:]
    if step is KEY:
        return {text: "1"}
    inner = text if not rest else _body(rest, text)
    return [inner] if step == 0 else {step: inner}


def _errors_at(errors, steps) -> str:
    """The error text DRF gives at ``steps`` (or at the list or dict field holding the rest), joined."""
    for step in steps:
        in_dict = isinstance(errors, dict) and step in errors
        in_items = isinstance(errors, list) and isinstance(step, int) and errors and isinstance(errors[0], dict)
        if in_dict or in_items:
            errors = errors[step]
        else:
            break
    return " ".join(map(str, errors)) if isinstance(errors, list) else str(errors)


WRITES = _writes()
TEXT_FIELDS = [(where, serializer, steps, multi_line) for where, serializer in WRITES
               for steps, multi_line in _text_paths(serializer())]


def test_the_writes_and_their_text_fields_are_found():
    # Given the schema's writes, then the search found them and their text, nested ones included
    labels = {f"{where} {_label(steps)}" for where, _s, steps, _m in TEXT_FIELDS}
    assert len({where for where, _s in WRITES}) >= 25
    assert {"POST /api/v1/proposals/{id}/reject/ comment", "POST /api/v1/models/ name",
            "POST /api/v1/models/ sleeves[].holdings{key}", "POST /api/v1/proposals/{id}/revise/ instructions[].symbol",
            "POST /api/v1/household-proposals/{id}/revise/ accounts[].drop[]", "POST /api/v1/runs/ scope.model_code",
            "PATCH /api/v1/households/{id}/settings/ asset_classes{'1'}[]", "PUT /api/v1/templates/{id}/ description",
            "POST /api/v1/webhook-endpoints/ secret", "POST /api/v1/cash-flows/ reference"} <= labels


def test_every_body_serializer_applies_the_check():
    # Every serializer a write reads (nested ones included) refuses text through the mixin
    def serializers_in(serializer):
        yield type(serializer)
        for field in serializer.fields.values():
            nested = field.child if isinstance(field, serializers.ListSerializer) else field
            if isinstance(nested, serializers.Serializer):
                yield from serializers_in(nested)

    missing = sorted({f"{where}: {cls.__name__}" for where, serializer in WRITES for cls in serializers_in(serializer())
                      if not issubclass(cls, UnknownFieldsRefused)})
    assert missing == []


@pytest.mark.parametrize(("serializer", "steps"), [pytest.param(s, steps, id=f"{where} {_label(steps)}")
                                                   for where, s, steps, _m in TEXT_FIELDS])
def test_every_text_field_refuses_a_zero_width_space_naming_it(firm_a, serializer, steps):
    # Given "AB\u200bC" in the field, when the body is read, then the field says which character and where
    body = serializer(data=_body(steps, "AB\u200bC"))

    with tenant_context(firm_a):  # a code's uniqueness is looked up in the firm's schema
        assert not body.is_valid()
    assert ZERO_WIDTH in _errors_at(body.errors, steps), body.errors


@pytest.mark.parametrize(("serializer", "steps", "multi_line"), [
    pytest.param(s, steps, multi_line, id=f"{where} {_label(steps)}")
    for where, s, steps, multi_line in TEXT_FIELDS if KEY not in steps])
def test_a_line_break_is_kept_in_multi_line_text_only(firm_a, serializer, steps, multi_line):
    body = serializer(data=_body(steps, "AB\nC"))
    with tenant_context(firm_a):
        body.is_valid()

    named = "a line break (U+000A) at position 3" in _errors_at(body.errors, steps)
    assert named is not multi_line, body.errors


def test_multi_line_text_is_the_comments_and_descriptions():
    multi_line = {f"{where} {_label(steps)}" for where, _s, steps, m in TEXT_FIELDS if m}
    assert multi_line == {
        "POST /api/v1/household-proposals/{id}/approve/ comment", "POST /api/v1/household-proposals/{id}/reject/ comment",
        "POST /api/v1/proposals/{id}/approve/ comment", "POST /api/v1/proposals/{id}/reject/ comment",
        "POST /api/v1/proposals/{id}/release/ comment", "POST /api/v1/models/ description",
        "POST /api/v1/templates/ description", "PUT /api/v1/templates/{id}/ description",
        "PATCH /api/v1/templates/{id}/ description", "POST /api/v1/restricted-list/ reason",
        "PATCH /api/v1/restricted-list/{id}/ reason", "POST /api/v1/restricted-list/{id}/lift/ reason"}


@pytest.mark.parametrize(("text", "problem"), [
    ("x\x1b[31m", "contains a control character (U+001B) at position 2"),
    ("x\x85", "contains a control character (U+0085) at position 2"),  # C1: next line
    ("\u202eLPAA", "contains right-to-left override (U+202E) at position 1"),
    ("AB\u2066C", "contains left-to-right isolate (U+2066) at position 3"),
    ("\ufeffAAPL", "contains zero width no-break space (U+FEFF) at position 1"),
    ("A\u00adB", "contains soft hyphen (U+00AD) at position 2"),
    ("A\tB", "contains a tab (U+0009) at position 2"),
])
def test_one_line_text_refuses_controls_and_format_characters(text, problem):
    from rebalancing.api.serializers import ModelCreateInSerializer

    body = ModelCreateInSerializer(data={"name": text})

    assert not body.is_valid()
    assert body.errors["name"] == [f"{problem}, which cannot be seen; remove it."]


def test_a_script_s_joiners_are_kept():
    from rebalancing.api.serializers import ModelCreateInSerializer

    body = ModelCreateInSerializer(data={"name": "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"})  # Persian, ZWNJ

    body.is_valid()
    assert "name" not in body.errors


# --- Worked examples through the API: the answer, and nothing written -----------------------------


def _post(client, path, body):
    return client.post(f"{API}/{path}", body, **JSON)


def test_a_rejection_comment_with_a_bidi_override_is_refused_and_the_proposal_stays_pending(
        firm_a, people, book, client_for):
    proposal = book["own_proposal"]
    client = client_for(firm_a, people["advisor"])  # signing in is audited too
    with tenant_context(firm_a):
        events = AuditEvent.objects.count()

    answer = _post(client, f"proposals/{proposal.pk}/reject/", {"comment": "client\u202e is moving money"})

    body = error_of(answer)
    assert answer.status_code == 400 and body["code"] == "invalid"
    assert body["detail"]["fields"] == {"comment": [
        "contains right-to-left override (U+202E) at position 7, which cannot be seen; remove it."]}
    with tenant_context(firm_a):
        assert Proposal.objects.get(pk=proposal.pk).status == Proposal.Status.PENDING
        assert not ProposalApproval.objects.filter(proposal=proposal).exists()
        assert AuditEvent.objects.count() == events


def test_a_nul_in_a_comment_is_named_with_its_position_and_nothing_is_written(firm_a, people, book, client_for):
    proposal = book["own_proposal"]

    answer = _post(client_for(firm_a, people["advisor"]), f"proposals/{proposal.pk}/reject/", {"comment": "gone\x00"})

    assert answer.status_code == 400
    assert error_of(answer)["detail"]["fields"] == {"comment": [
        "contains a control character (U+0000) at position 5, which cannot be seen; remove it."]}
    with tenant_context(firm_a):
        assert Proposal.objects.get(pk=proposal.pk).status == Proposal.Status.PENDING


def test_a_nul_deep_in_a_body_is_named_by_its_path(firm_a, people, book, client_for):
    proposal = book["own_proposal"]

    answer = _post(client_for(firm_a, people["advisor"]), f"proposals/{proposal.pk}/revise/",
                   {"instructions": [{"action": "hold", "symbol": "VT\x00I"}]})

    assert answer.status_code == 400
    assert error_of(answer)["detail"]["fields"] == {"instructions[0].symbol": [
        "contains a control character (U+0000) at position 3, which cannot be seen; remove it."]}
    with tenant_context(firm_a):
        assert not Proposal.objects.filter(revised_from=proposal).exists()


def test_a_two_line_approval_comment_is_kept_as_written(firm_a, people, book, client_for):
    proposal = book["own_proposal"]

    answer = _post(client_for(firm_a, people["advisor"]), f"proposals/{proposal.pk}/approve/",
                   {"comment": "Discussed on the phone.\r\nThe client agrees."})

    assert answer.status_code == 200, answer.content
    assert answer.json()["approvals"][0]["comment"] == "Discussed on the phone.\r\nThe client agrees."


def test_a_look_alike_symbol_in_an_instruction_is_refused_and_nothing_is_solved(firm_a, people, book, client_for):
    proposal = book["own_proposal"]

    answer = _post(client_for(firm_a, people["advisor"]), f"proposals/{proposal.pk}/revise/",
                   {"instructions": [{"action": "do_not_buy", "symbol": "VT\u200bI"}]})

    assert answer.status_code == 400
    assert error_of(answer)["detail"]["fields"] == {"instructions": {"0": {"symbol": [
        "contains zero width space (U+200B) at position 3, which cannot be seen; remove it."]}}}
    with tenant_context(firm_a):
        assert not Proposal.objects.filter(revised_from=proposal).exists()
        assert Proposal.objects.get(pk=proposal.pk).status == Proposal.Status.PENDING


def test_a_model_whose_holding_is_a_look_alike_is_refused_whole(firm_a, people, book, client_for):
    body = {"code": "income", "name": "Income 20/80", "sleeves": [
        {"asset_class": "us_equity", "weight": "0.2", "holdings": {"VTI": "1"}},
        {"asset_class": "bonds", "weight": "0.8", "holdings": {"BN\u200bD": "1"}},
    ]}

    answer = _post(client_for(firm_a, people["admin"]), "models/", body)

    assert answer.status_code == 400
    sleeves = error_of(answer)["detail"]["fields"]["sleeves"]
    assert sleeves == {"1": {"holdings": [
        "the key 'BN\\u200bD' contains zero width space (U+200B) at position 3, which cannot be seen; remove it."]}}
    with tenant_context(firm_a):
        assert not ModelPortfolio.objects.filter(code="income").exists()


def test_a_webhook_description_with_an_escape_sequence_is_refused(firm_a, people, client_for):
    answer = _post(client_for(firm_a, people["admin"]), "webhook-endpoints/",
                   {"url": "https://hooks.example.com/r", "event_types": ["run.finished"],
                    "description": "OMS\x1b[31m"})

    assert answer.status_code == 400
    assert error_of(answer)["detail"]["fields"] == {"description": [
        "contains a control character (U+001B) at position 4, which cannot be seen; remove it."]}
    with tenant_context(firm_a):
        assert not WebhookEndpoint.objects.exists()


def test_a_cash_flow_reference_with_a_line_break_is_refused(firm_a, people, book, client_for):
    with tenant_context(firm_a):
        before = CashFlow.objects.count()

    answer = _post(client_for(firm_a, people["admin"]), "cash-flows/",
                   {"household": book["own"].household_id, "kind": "deposit", "amount": "100",
                    "account": book["own"].pk, "reference": "wire\n42"})

    assert answer.status_code == 400
    assert error_of(answer)["detail"]["fields"] == {"reference": [
        "contains a line break (U+000A) at position 5, which cannot be seen; remove it."]}
    with tenant_context(firm_a):
        assert CashFlow.objects.count() == before


def test_a_template_renamed_with_an_isolate_keeps_its_name(firm_a, people, book, client_for):
    template = book["template"]

    answer = client_for(firm_a, people["admin"]).patch(f"{API}/templates/{template.pk}/",
                                                       {"name": "Tax\u2066 aware"}, **JSON)

    assert answer.status_code == 400
    assert error_of(answer)["detail"]["fields"] == {"name": [
        "contains left-to-right isolate (U+2066) at position 4, which cannot be seen; remove it."]}
    with tenant_context(firm_a):
        assert ParameterTemplate.objects.get(pk=template.pk).name == template.name
