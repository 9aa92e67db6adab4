"""Forms that refuse what was typed: the refusal names the field, nothing is written, and the form
comes back with what was typed (found walking each role's day in the browser)."""

import re

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import RebalanceRun

pytestmark = pytest.mark.django_db


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def _runs(firm):
    with tenant_context(firm):
        return RebalanceRun.objects.count()


@pytest.mark.parametrize("form, says", [
    ({"scope": "model"}, "Choose the model whose accounts the run is for"),
    ({"scope": "template", "min_drift": "2"}, "Choose the template whose accounts the run is for"),
    ({"scope": "advisor"}, "Choose the advisor whose accounts the run is for"),
    ({"scope": "firm", "min_drift": "-1"}, "The drift threshold must be from 0 to 1000%, not -1%"),
    ({"scope": "firm", "min_drift": "abc"}, "The drift threshold must be a number"),
])
def test_a_run_form_missing_its_choice_or_with_a_negative_drift_starts_nothing(book, as_user, firm_a, form, says):
    # Given a portfolio manager who chose "On one model" (or a template, an advisor) and no model
    before = _runs(firm_a)
    client = as_user("pm")

    # When they start the run
    response = client.post("/runs/", form)

    # Then no run starts (before: the whole firm was run), the refusal says what to choose...
    assert response.status_code == 302 and response["Location"] == "/runs/"
    assert _runs(firm_a) == before
    page = text(client.get("/runs/"))
    assert says in page
    # ...and the form shows what was chosen, once
    assert f'<option value="{form["scope"]}" selected>' in page
    if "min_drift" in form:
        assert f'value="{form["min_drift"]}"' in page
    assert f'<option value="{form["scope"]}" selected>' not in text(client.get("/runs/"))


def test_a_model_chosen_under_the_whole_firm_is_refused_and_kept(book, as_user, firm_a):
    before = _runs(firm_a)
    client = as_user("pm")

    client.post("/runs/", {"scope": "firm", "model": book["model"].code})

    assert _runs(firm_a) == before
    page = text(client.get("/runs/"))
    assert "A model is chosen but the run is for the whole firm" in page
    assert f'<option value="{book["model"].code}" selected>' in page


def test_a_run_of_one_model_still_starts(book, as_user, firm_a):
    response = as_user("pm").post("/runs/", {"scope": "model", "model": book["model"].code, "min_drift": "0.5"})

    assert response.status_code == 302 and response["Location"].startswith("/runs/")
    with tenant_context(firm_a):
        assert RebalanceRun.objects.order_by("-pk").first().scope == {"model_code": book["model"].code,
                                                                       "min_drift": 0.005}


def test_a_refused_new_model_keeps_everything_typed(book, as_user, firm_a):
    from rebalancing.models import ModelPortfolio

    # Given a firm admin creating a model whose holding is not in the security master
    form = {"code": "income-2027", "name": "Income 2027", "description": "For the Lee family's trust, as agreed",
            "rows": "1", "s0-asset_class": "bonds", "s0-weight": "100", "s0-kind": "holdings",
            "s0-holdings": "NOPE 100"}

    # When it is refused
    response = as_user("admin").post("/models/new/", form)

    # Then the refusal names the symbol and every field still holds what was typed (before: the
    # description was emptied)
    page = text(response)
    assert response.status_code == 400 and "unknown symbol &#x27;NOPE&#x27;" in page
    assert 'value="income-2027"' in page and 'value="Income 2027"' in page and 'value="NOPE 100"' in page
    assert ">For the Lee family&#x27;s trust, as agreed</textarea>" in page
    with tenant_context(firm_a):
        assert not ModelPortfolio.objects.filter(code="income-2027").exists()
