"""The audit log says what a record changed: each key that differs between before and after, old ->
new (nested keys dotted), for every action; the whole before and after stay on the page. Before,
both columns were cut to 160 characters, so a min trade 250 -> 500 read the same on both sides."""

import html
import re

import pytest
from django_tenants.utils import tenant_context

from tenants.audit.services import audit_record

from .test_firm_admin_pages import _template_form

pytestmark = pytest.mark.django_db


def text(response) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", response.content.decode())))


def test_a_template_change_shows_the_setting_that_changed_old_and_new(firm_a, book, as_user):
    client, template = as_user("admin"), book["template"]
    url = f"/templates/{template.pk}/"
    client.post(url, {**_template_form(client.get(url)), "p__trading__min_trade_value": ["250"]})
    client.post(url, {**_template_form(client.get(url)), "p__trading__min_trade_value": ["500"]})

    page = client.get("/audit/", {"action": "template.change"})

    words = text(page)
    assert "parameters.trading.min_trade_value : 250 → 500" in words
    assert "parameters.trading.min_trade_value : — → 250" in words  # the first change: not set before
    assert "Before and after in full" in words
    assert "After: name: Standard; parameters: Trading: minimum trade = 500.0; overridable:" in words  # whole


def test_household_settings_and_any_other_action_show_their_changed_keys(firm_a, book, as_user, people):
    with tenant_context(firm_a):
        audit_record(actor=people["pm"], action="household.parameters", object_type="household", object_id="1",
                     before={"overrides": {"tax_budget": 2500.0, "location": {"bonds": ["roth"]}, "x": "same"}},
                     after={"overrides": {"tax_budget": 4000.0, "location": {"bonds": ["roth", "traditional"]},
                                          "x": "same", "inside_bands": "cash_flows"}})

    words = text(as_user("compliance").get("/audit/", {"action": "household.parameters"}))

    assert "overrides.tax_budget : 2500 → 4000" in words
    assert 'overrides.location.bonds : ["roth"] → ["roth", "traditional"]' in words
    assert "overrides.inside_bands : — → cash_flows" in words
    assert "overrides.x :" not in words  # unchanged keys are not listed


@pytest.mark.parametrize(("before", "after", "expected"), [
    ({"a": 1}, {"a": 1}, []),
    ({"a": {"b": 1, "c": 2}}, {"a": {"b": 1, "c": 3}}, [("a.c", "2", "3")]),
    ({"a": {"b": 1}}, {"a": 5}, [("a.b", "1", "—"), ("a", "—", "5")]),
    ({"on": True}, {"on": False, "new": None}, [("on", "yes", "no"), ("new", "—", "none")]),
    ({"status": "pending"}, {}, [("status", "pending", "—")]),
])
def test_changed_keys_worked_examples(before, after, expected):
    from frontend.views.audit import changed_keys

    assert changed_keys(before, after) == expected
