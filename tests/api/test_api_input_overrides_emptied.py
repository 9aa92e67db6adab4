"""docs/api.md's merge-patch example: ``PATCH accounts/{id}/parameters/ {"overrides": {"cash": {"target": null}}}``
takes the account's cash target back to its template's. It was refused - 400 "cash may not be overridden
under template 'standard'" - because the patch (RFC 7396 keeps an emptied object) left ``{"cash": {}}``,
which the template's check read as an override of the group ``cash`` itself. An empty group overrides
nothing: it is dropped where overrides and template parameters are saved, and the check ignores it. A map
leaf kept empty (``harvest.substitutes: {}``: no substitutes) is a value, and stays."""

import pytest
from django_tenants.utils import tenant_context
from hypothesis import given, settings
from hypothesis import strategies as st

from rebalancing.effective_parameters import empty_groups_dropped, override_problems
from rebalancing.models import Account, Household, ParameterTemplate

from .conftest import API, error_of

OVERRIDABLE = {"cash.target": {"min": 0, "max": 0.05}, "harvest": {}}


def _patch(client, url, body, method="patch"):
    return getattr(client, method)(url, body, content_type="application/json")


@pytest.mark.django_db
def test_the_documented_patch_takes_the_cash_target_back_to_the_templates(firm_a, people, book, client_for):
    # given an account whose cash target is overridden
    client, account = client_for(firm_a, people["pm"]), book["own"]
    url = f"{API}/accounts/{account.pk}/parameters/"
    assert _patch(client, url, {"overrides": {"cash": {"target": 0.03}, "harvest": {"enabled": True}}}).status_code == 200

    # when the override is removed as docs/api.md shows
    answer = _patch(client, url, {"overrides": {"cash": {"target": None}}})

    # then it is, the other override kept, and the target is the template's again
    assert answer.status_code == 200, answer.content
    with tenant_context(firm_a):
        assert Account.objects.get(pk=account.pk).overrides == {"harvest": {"enabled": True}}
    leaves = {leaf["path"]: leaf for leaf in client.get(f"{API}/accounts/{account.pk}/").json()
              ["effective_parameters"]["leaves"]}
    assert (leaves["cash.target"]["value"], leaves["cash.target"]["source"]) == (0.01, "template:standard")

    # and the last override removed leaves none
    assert _patch(client, url, {"overrides": {"harvest": {"enabled": None}}}).status_code == 200
    with tenant_context(firm_a):
        assert Account.objects.get(pk=account.pk).overrides == {}


@pytest.mark.django_db
def test_a_households_override_removed_by_patch(firm_a, people, book, client_for):
    client, household = client_for(firm_a, people["pm"]), book["own"].household_id
    url = f"{API}/households/{household}/parameters/"
    assert _patch(client, url, {"overrides": {"harvest": {"enabled": True}}}).status_code == 200

    answer = _patch(client, url, {"overrides": {"harvest": {"enabled": None}}})

    assert answer.status_code == 200, answer.content
    with tenant_context(firm_a):
        assert Household.objects.get(pk=household).overrides == {}


@pytest.mark.django_db
@pytest.mark.parametrize("level", ["accounts", "households"])
def test_a_put_of_an_empty_group_overrides_nothing(firm_a, people, book, client_for, level):
    record = book["own"].pk if level == "accounts" else book["own"].household_id
    answer = _patch(client_for(firm_a, people["pm"]), f"{API}/{level}/{record}/parameters/",
                    {"overrides": {"cash": {}, "drift": {}, "harvest": {"enabled": True}}}, method="put")
    assert answer.status_code == 200, answer.content
    with tenant_context(firm_a):
        kept = (Account if level == "accounts" else Household).objects.get(pk=record).overrides
    assert kept == {"harvest": {"enabled": True}}


@pytest.mark.django_db
def test_an_empty_map_leaf_is_a_value_and_kept(firm_a, people, book, client_for):
    # harvest.substitutes {} replaces the template's substitutes with none: an override, not an empty group
    answer = _patch(client_for(firm_a, people["pm"]), f"{API}/accounts/{book['own'].pk}/parameters/",
                    {"overrides": {"harvest": {"substitutes": {}}}}, method="put")
    assert answer.status_code == 200, answer.content
    with tenant_context(firm_a):
        assert Account.objects.get(pk=book["own"].pk).overrides == {"harvest": {"substitutes": {}}}


@pytest.mark.django_db
def test_a_template_patch_removing_a_groups_last_setting_keeps_no_empty_group(firm_a, people, book, client_for):
    template = book["template"]
    answer = _patch(client_for(firm_a, people["admin"]), f"{API}/templates/{template.pk}/",
                    {"parameters": {"cash": {"target": None}}})
    assert answer.status_code == 200, answer.content
    with tenant_context(firm_a):
        assert ParameterTemplate.objects.get(pk=template.pk).parameters == {"trading": {"whole_shares": True}}


@pytest.mark.django_db
def test_a_group_itself_is_still_refused_where_the_template_does_not_allow_it(firm_a, people, book, client_for):
    answer = _patch(client_for(firm_a, people["pm"]), f"{API}/accounts/{book['own'].pk}/parameters/",
                    {"overrides": {"drift": {"enabled": True}}})
    assert answer.status_code == 400
    assert "drift.enabled may not be overridden" in error_of(answer)["message"]


# --- the rule, against a plain reading ----------------------------------------------------------------------

GROUPS = ["cash", "harvest", "drift", "screen", "trading", "restrictions", "wash_sale", "transition", "direct_index"]
_leaves = st.fixed_dictionaries({}, optional={
    "cash": st.fixed_dictionaries({}, optional={"target": st.sampled_from([0.0, 0.02, 0.5])}),
    "harvest": st.fixed_dictionaries({}, optional={"enabled": st.booleans(), "substitutes": st.just({})}),
    "drift": st.fixed_dictionaries({}, optional={"enabled": st.booleans()}),
})


@settings(max_examples=200, deadline=None)
@given(overrides=_leaves, empties=st.lists(st.sampled_from(GROUPS), unique=True))
def test_empty_groups_change_neither_the_overrides_nor_what_is_refused(overrides, empties):
    # A plain reading: an override is a leaf with a value; groups holding no leaf are not overrides.
    plain = {group: dict(values) for group, values in overrides.items() if values}
    padded = {**{group: {} for group in empties}, **overrides}

    assert empty_groups_dropped(padded) == plain
    assert override_problems(padded, code="standard", overridable=OVERRIDABLE) == override_problems(
        plain, code="standard", overridable=OVERRIDABLE)
    assert not any(p.startswith(tuple(f"{g} may" for g in GROUPS))
                   for p in override_problems(padded, code="standard", overridable=OVERRIDABLE))
