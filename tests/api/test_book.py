"""The book through the API: market data, models, templates, accounts with effective parameters."""

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import ModelPortfolio, ModelVersion, ParameterTemplate
from tenants.audit.models import AuditEvent

from .conftest import API, error_of

pytestmark = pytest.mark.django_db


def test_an_account_shows_its_effective_parameters_and_their_sources(firm_a, people, book, client_for):
    answer = client_for(firm_a, people["advisor"]).get(f"{API}/accounts/{book['own'].pk}/").json()

    leaves = {leaf["path"]: leaf for leaf in answer["effective_parameters"]["leaves"]}
    assert answer["template"] == "standard" and answer["model"] == "balanced"
    assert leaves["cash.target"] == {"path": "cash.target", "value": 0.01, "source": "template:standard"}
    assert leaves["harvest.enabled"]["source"] == "default"
    assert answer["effective_parameters"]["values"]["cash"]["target"] == 0.01


def test_an_advisor_overrides_within_the_templates_limits(firm_a, people, book, client_for):
    client = client_for(firm_a, people["advisor"])
    path = f"{API}/accounts/{book['own'].pk}/parameters/"

    within = client.patch(path, {"overrides": {"cash": {"target": 0.03}}}, content_type="application/json")
    beyond = client.patch(path, {"overrides": {"cash": {"target": 0.5}}}, content_type="application/json")

    assert within.status_code == 200, within.content
    leaves = {leaf["path"]: leaf for leaf in within.json()["effective_parameters"]["leaves"]}
    assert leaves["cash.target"] == {"path": "cash.target", "value": 0.03, "source": "account"}
    assert beyond.status_code == 400 and error_of(beyond)["code"] == "invalid"
    with tenant_context(firm_a):
        assert AuditEvent.objects.filter(action="account.parameters", object_id=str(book["own"].pk)).count() == 1


def test_overrides_the_engine_cannot_rebalance_with_are_refused_naming_its_reason(firm_a, people, book, client_for):
    with tenant_context(firm_a):
        ParameterTemplate.objects.filter(pk=book["template"].pk).update(
            overridable={**book["template"].overridable, "direct_index": {}})
    refused = client_for(firm_a, people["advisor"]).patch(
        f"{API}/accounts/{book['own'].pk}/parameters/", {"overrides": {"direct_index": {"us_equity": {}}}},
        content_type="application/json")
    error = error_of(refused)
    assert refused.status_code == 400 and error["detail"]["field"] == "overrides"
    # refused where overrides are saved (services.setting_conflicts), naming the sleeve and what it lacks
    # in the words the pages use; the detail keeps the setting's code for a program
    assert ("the setting “Direct indexing” names sleeve us_equity, which model Balanced has without a benchmark"
            in error["message"])
    assert error["detail"]["parameter"] == "direct_index"
    with tenant_context(firm_a):
        book["own"].refresh_from_db()
        assert book["own"].overrides == {}


def test_account_filters(firm_a, people, book, client_for):
    client = client_for(firm_a, people["pm"])

    by_advisor = client.get(f"{API}/accounts/", {"advisor": people["colleague"].pk}).json()
    by_model = client.get(f"{API}/accounts/", {"model": "balanced", "taxable": "true"}).json()
    by_template = client.get(f"{API}/accounts/", {"template": "nothing-like-it"}).json()

    assert [a["custodian_number"] for a in by_advisor["results"]] == ["T-COL"]
    assert by_model["count"] == 3 and by_template["count"] == 0


def test_securities_filter_and_paginate(firm_a, people, book, client_for):
    client = client_for(firm_a, people["advisor"])

    bonds = client.get(f"{API}/securities/", {"asset_class": "bonds"}).json()
    page = client.get(f"{API}/securities/", {"page_size": 2, "page": 2}).json()
    searched = client.get(f"{API}/securities/", {"search": "vt"}).json()

    assert sorted(s["symbol"] for s in bonds["results"]) == ["AGG", "BND"]
    assert page["count"] == 6 and len(page["results"]) == 2 and page["previous"] and page["next"]
    assert [s["symbol"] for s in searched["results"]] == ["VTI"]


def test_a_firm_admin_makes_a_model_version_and_a_pm_may_not(firm_a, people, book, client_for):
    model = book["model"]
    body = {"note": "more bonds", "sleeves": [
        {"asset_class": "us_equity", "weight": "0.5", "holdings": {"VTI": "1"}},
        {"asset_class": "bonds", "weight": "0.5", "holdings": {"BND": "0.5", "AGG": "0.5"}},
    ]}

    made = client_for(firm_a, people["admin"]).post(f"{API}/models/{model.pk}/versions/", body,
                                                    content_type="application/json")
    refused = client_for(firm_a, people["pm"]).post(f"{API}/models/{model.pk}/versions/", body,
                                                    content_type="application/json")
    shown = client_for(firm_a, people["pm"]).get(f"{API}/models/{model.pk}/").json()

    assert made.status_code == 201 and made.json()["number"] == 2
    assert refused.status_code == 403
    assert shown["versions"] == [2, 1] and shown["current_version"]["note"] == "more bonds"
    assert {h["symbol"] for s in shown["current_version"]["sleeves"] for h in s["holdings"]} == {"VTI", "BND", "AGG"}
    with tenant_context(firm_a):
        assert ModelVersion.objects.filter(model=model).count() == 2


def test_a_firm_admin_creates_a_model_with_its_first_version(firm_a, people, book, client_for):
    body = {"code": "income", "name": "Income 20/80", "sleeves": [
        {"asset_class": "us_equity", "weight": "0.2", "holdings": {"VTI": "1"}},
        {"asset_class": "bonds", "weight": "0.8", "holdings": {"BND": "1"}},
    ]}

    made = client_for(firm_a, people["admin"]).post(f"{API}/models/", body, content_type="application/json")
    refused = client_for(firm_a, people["pm"]).post(f"{API}/models/", body | {"code": "other"},
                                                    content_type="application/json")
    bad = client_for(firm_a, people["admin"]).post(f"{API}/models/", body | {"code": "bad", "sleeves": [
        {"asset_class": "us_equity", "weight": "0.5", "holdings": {"VTI": "1"}}]}, content_type="application/json")

    assert made.status_code == 201
    assert made.json()["code"] == "income" and made.json()["current_version"]["number"] == 1
    assert refused.status_code == 403
    assert bad.status_code == 400 and "sum to 0.5" in error_of(bad)["message"]
    with tenant_context(firm_a):
        assert not ModelPortfolio.objects.filter(code__in=["other", "bad"]).exists()


def test_a_bad_model_version_is_refused_with_its_problems(firm_a, people, book, client_for):
    body = {"sleeves": [{"asset_class": "us_equity", "weight": "0.7", "holdings": {"ZZZZ": "1"}}]}

    answer = client_for(firm_a, people["admin"]).post(f"{API}/models/{book['model'].pk}/versions/", body,
                                                      content_type="application/json")

    assert answer.status_code == 400
    assert len(error_of(answer)["detail"]["problems"]) == 2  # weights, unknown symbol
    # a submodel named on a sleeve of securities was dropped without a word
    body = {"sleeves": [{"asset_class": "us_equity", "weight": "1", "holdings": {"VTI": "1"}, "submodel": "NOPE"}]}
    answer = client_for(firm_a, people["admin"]).post(f"{API}/models/{book['model'].pk}/versions/", body,
                                                      content_type="application/json")
    assert answer.status_code == 400
    assert error_of(answer)["detail"]["problems"] == ["sleeve us_equity is of kind holdings: it takes no submodel (NOPE)"]


def test_templates_are_created_and_changed_through_the_service(firm_a, people, client_for):
    client = client_for(firm_a, people["admin"])

    made = client.post(f"{API}/templates/", {"code": "esg", "name": "ESG", "parameters": {"cash": {"target": 0.02}},
                                             "overridable": {"cash.target": {"max": 0.05}}},
                       content_type="application/json")
    changed = client.patch(f"{API}/templates/{made.json()['id']}/", {"name": "ESG: no fossil fuels"},
                           content_type="application/json")
    invalid = client.post(f"{API}/templates/", {"code": "bad", "name": "Bad", "parameters": {"cash": {"tar": 1}}},
                          content_type="application/json")

    assert made.status_code == 201 and changed.status_code == 200
    assert changed.json()["name"] == "ESG: no fossil fuels" and changed.json()["parameters"] == {"cash": {"target": 0.02}}
    assert invalid.status_code == 400 and error_of(invalid)["detail"] == {"field": "parameters", "parameter": "cash"}
    with tenant_context(firm_a):
        assert ParameterTemplate.objects.get(code="esg").name == "ESG: no fossil fuels"
        assert list(AuditEvent.objects.filter(object_type="parametertemplate").values_list("action", flat=True)
                    .order_by("id")) == ["template.create", "template.change"]


@pytest.mark.parametrize(("body", "field", "words"), [
    ({"parameters": {"harvest": {"enabled": False, "min_loss_value": 1e300}}}, "parameters",
     "“Year-round loss harvesting: minimum loss per position”: must be from 0 to 1e+15, got 1e+300"),
    ({"parameters": {"trading": {"min_trade_value": 2e15}}}, "parameters", "“Trading: minimum trade”"),
    ({"overridable": {"harvest.min_loss_value": {"max": 1e300}}}, "overridable",
     "harvest.min_loss_value: the maximum $1 × 10^300 is not a value it may take"),
    ({"overridable": {"household.tax_budget": {"max": 1e300}}}, "overridable",
     "the tax budget must be at most $1 quadrillion, not $1 × 10^300"),
    ({"household_parameters": {"tax_budget": 1e300}}, "tax_budget", "at most $1 quadrillion"),
])
def test_a_template_dollar_amount_beyond_the_engines_cap_is_refused_naming_it(firm_a, people, client_for, body,
                                                                              field, words):
    answer = client_for(firm_a, people["admin"]).post(
        f"{API}/templates/", {"code": "huge", "name": "Huge", "parameters": {}, "overridable": {}, **body},
        content_type="application/json")

    assert answer.status_code == 400, answer.content
    error = error_of(answer)
    assert error["detail"]["field"] == field and words in error["message"]
    with tenant_context(firm_a):
        assert not ParameterTemplate.objects.filter(code="huge").exists()


def test_benchmark_weights_and_lots(firm_a, people, book, client_for):
    from datetime import date
    from decimal import Decimal

    from rebalancing.models import Benchmark, BenchmarkWeight, Security

    with tenant_context(firm_a):
        bench = Benchmark.objects.create(code="TOT", name="Total")
        for day, weights in ((date(2026, 10, 1), {"VTI": "1"}), (date(2026, 11, 1), {"VTI": "0.6", "ITOT": "0.4"})):
            for symbol, weight in weights.items():
                BenchmarkWeight.objects.create(benchmark=bench, date=day, security=Security.objects.get(symbol=symbol),
                                               weight=Decimal(weight))
    client = client_for(firm_a, people["advisor"])

    latest = client.get(f"{API}/benchmarks/{bench.pk}/weights/").json()
    older = client.get(f"{API}/benchmarks/{bench.pk}/weights/", {"date": "2026-10-15"}).json()
    lots = client.get(f"{API}/accounts/{book['own'].pk}/lots/").json()

    assert [(w["symbol"], w["weight"]) for w in latest["results"]] == [("VTI", "0.6000000000"), ("ITOT", "0.4000000000")]
    assert [w["symbol"] for w in older["results"]] == ["VTI"]
    assert [lot["symbol"] for lot in lots["results"]] == ["VTI", "BND"]
