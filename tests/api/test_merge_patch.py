"""PATCH of a JSON document is a JSON Merge Patch (RFC 7396): a template's parameters, limits and household
settings, an account's and a household's overrides. A PATCH naming one setting once replaced the whole
document with it (a template's harvesting, direct indexing and cash target gone with a do_not_buy)."""

import pytest
from django_tenants.utils import tenant_context

from rebalancing.api.merge_patch import merge_patch
from rebalancing.models import Household, ParameterTemplate

from .conftest import API

# RFC 7396, Appendix A: (original, patch, result).
RFC_7396_EXAMPLES = [
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    (["a", "b"], ["c", "d"], ["c", "d"]),
    ({"a": "b"}, ["c"], ["c"]),
    ({"a": "foo"}, None, None),
    ({"a": "foo"}, "bar", "bar"),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
]


@pytest.mark.parametrize(("original", "patch", "result"), RFC_7396_EXAMPLES)
def test_merge_patch_follows_rfc_7396_appendix_a(original, patch, result):
    kept = repr(original)
    assert merge_patch(original, patch) == result
    assert repr(original) == kept  # the stored document is not changed in place



FULL = {"cash": {"target": 0.02}, "harvest": {"enabled": True, "min_loss_value": 750.0},
        "restrictions": {"do_not_buy": ["ITOT"], "do_not_sell": ["BND"]}, "trading": {"whole_shares": True}}


@pytest.mark.django_db
def test_a_template_patch_merges_its_parameters_and_put_replaces_them(firm_a, people, book, client_for):
    with tenant_context(firm_a):
        ParameterTemplate.objects.filter(pk=book["template"].pk).update(
            parameters=FULL, household_parameters={"tax_budget": 5000, "inside_bands": "cash_flows"})
    client = client_for(firm_a, people["admin"])
    path = f"{API}/templates/{book['template'].pk}/"

    patched = client.patch(path, {"parameters": {"restrictions": {"do_not_buy": ["SCHB"]}, "harvest": {"enabled": None}},
                                  "household_parameters": {"tax_budget": 8000}},
                           content_type="application/json")

    assert patched.status_code == 200, patched.content
    assert patched.json()["parameters"] == {
        "cash": {"target": 0.02}, "harvest": {"min_loss_value": 750.0},
        "restrictions": {"do_not_buy": ["SCHB"], "do_not_sell": ["BND"]}, "trading": {"whole_shares": True}}
    assert patched.json()["household_parameters"] == {"tax_budget": 8000, "inside_bands": "cash_flows"}
    assert patched.json()["overridable"] == book["template"].overridable  # not named: kept

    limits = client.patch(path, {"overridable": {"cash.target": None, "trading": {}}}, content_type="application/json")
    assert limits.status_code == 200, limits.content
    assert limits.json()["overridable"] == {"harvest": {}, "trading": {}}

    put = client.put(path, {"name": "Standard", "parameters": {"cash": {"target": 0.03}}},
                     content_type="application/json")
    assert put.status_code == 200, put.content
    assert put.json()["parameters"] == {"cash": {"target": 0.03}}  # PUT: the whole document
    assert put.json()["overridable"] == {}


@pytest.mark.django_db
def test_an_account_patch_merges_its_overrides_and_put_replaces_them(firm_a, people, book, client_for):
    with tenant_context(firm_a):
        ParameterTemplate.objects.filter(pk=book["template"].pk).update(
            overridable={"cash.target": {"min": 0, "max": 0.05}, "harvest": {}, "trading.min_trade_value": {}})
    client = client_for(firm_a, people["advisor"])
    path = f"{API}/accounts/{book['own'].pk}/parameters/"

    first = client.patch(path, {"overrides": {"cash": {"target": 0.03}, "harvest": {"enabled": True}}},
                         content_type="application/json")
    second = client.patch(path, {"overrides": {"trading": {"min_trade_value": 50}, "harvest": {"enabled": None}}},
                          content_type="application/json")

    assert first.status_code == 200 and second.status_code == 200, second.content
    with tenant_context(firm_a):
        book["own"].refresh_from_db()
        assert book["own"].overrides == {"cash": {"target": 0.03}, "trading": {"min_trade_value": 50}}
    put = client.put(path, {"overrides": {"harvest": {"enabled": True}}}, content_type="application/json")
    assert put.status_code == 200, put.content
    with tenant_context(firm_a):
        book["own"].refresh_from_db()
        assert book["own"].overrides == {"harvest": {"enabled": True}}


@pytest.mark.django_db
def test_a_household_patch_merges_its_overrides_and_put_replaces_them(firm_a, people, book, client_for):
    client = client_for(firm_a, people["advisor"])
    household = book["own"].household
    path = f"{API}/households/{household.pk}/parameters/"

    first = client.patch(path, {"overrides": {"cash": {"target": 0.03}}}, content_type="application/json")
    second = client.patch(path, {"overrides": {"harvest": {"enabled": True}}}, content_type="application/json")

    assert first.status_code == 200 and second.status_code == 200, second.content
    with tenant_context(firm_a):
        assert Household.objects.get(pk=household.pk).overrides == {"cash": {"target": 0.03},
                                                                      "harvest": {"enabled": True}}
    cleared = client.put(path, {"overrides": {}}, content_type="application/json")
    assert cleared.status_code == 200, cleared.content
    with tenant_context(firm_a):
        assert Household.objects.get(pk=household.pk).overrides == {}
