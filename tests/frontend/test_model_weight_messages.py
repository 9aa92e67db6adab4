"""A refused model version says its weights in the unit they were typed in: percent on the model
pages, fractions in the API."""

import re

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import ModelPortfolio

pytestmark = pytest.mark.django_db

API = "/api/v1"


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def _form(**changes) -> dict:
    """The book's 60/30/10 model as the page's form holds it, with ``changes``."""
    return {"rows": "3", "note": "",
            "s0-asset_class": "us_equity", "s0-weight": "60", "s0-kind": "holdings", "s0-holdings": "VTI 80, XLE 20",
            "s1-asset_class": "bonds", "s1-weight": "30", "s1-kind": "holdings", "s1-holdings": "BND 100",
            "s2-asset_class": "real_estate", "s2-weight": "10", "s2-kind": "holdings", "s2-holdings": "VNQ 100",
            **changes}


def test_the_model_page_says_a_sleeve_weight_sum_in_percent(book, as_user, firm_a):
    # Given a firm admin typing 65 (%) for a sleeve of a 60/30/10 model
    client, model = as_user("admin"), book["model"]

    # When it is saved and previewed
    refused = client.post(f"/models/{model.pk}/", _form(**{"s0-weight": "65"}))
    preview = client.post(f"/models/{model.pk}/preview/", _form(**{"s0-weight": "65"}))

    # Then both say the sum in percent, as typed (before: "sum to 1.05, not 1")
    assert refused.status_code == 400 and "sleeve weights sum to 105%, not 100%" in text(refused)
    assert ("The change cannot be previewed:</strong> the model as edited is not valid: sleeve weights sum to 105%, "
            "not 100%. Correct it above, then preview again.") in text(preview)
    assert "not saved" not in text(preview)
    with tenant_context(firm_a):
        assert ModelPortfolio.objects.get(pk=model.pk).current_version.number == 1


def test_the_model_page_names_the_sleeve_whose_holdings_do_not_sum_to_100_percent(book, as_user):
    refused = as_user("admin").post(f"/models/{book['model'].pk}/", _form(**{"s0-holdings": "VTI 60, XLE 30"}))

    assert refused.status_code == 400 and "holdings of sleeve us_equity sum to 90%, not 100%" in text(refused)


def test_a_new_model_page_says_its_weights_in_percent(book, as_user, firm_a):
    form = {"rows": "1", "code": "all-bonds", "name": "All bonds", "s0-asset_class": "bonds", "s0-weight": "99.5",
            "s0-kind": "holdings", "s0-holdings": "BND 50, AGG 40"}

    refused = as_user("admin").post("/models/new/", form)

    page = text(refused)
    assert refused.status_code == 400 and "sleeve weights sum to 99.5%, not 100%" in page
    assert "holdings of sleeve bonds sum to 90%, not 100%" in page
    with tenant_context(firm_a):
        assert not ModelPortfolio.objects.filter(code="all-bonds").exists()


def test_the_api_says_weights_in_fractions_as_it_takes_them(book, people, firm_a, client_for):
    body = {"note": "", "sleeves": [
        {"asset_class": "us_equity", "weight": "0.65", "holdings": {"VTI": "0.6", "XLE": "0.3"}},
        {"asset_class": "bonds", "weight": "0.4", "holdings": {"BND": "1"}},
    ]}

    refused = client_for(firm_a, people["admin"]).post(f"{API}/models/{book['model'].pk}/versions/", body,
                                                       content_type="application/json")

    assert refused.status_code == 400
    assert refused.json()["detail"]["problems"] == [
        "sleeve weights sum to 1.05, not 1", "holdings of sleeve us_equity sum to 0.9, not 1"]


def test_a_negative_weight_is_named_not_only_seen_in_the_sum(book, as_user):
    # (the API's serializer refuses a negative weight by its field already)
    refused = as_user("admin").post(f"/models/{book['model'].pk}/", _form(**{"s0-weight": "-5"}))
    assert refused.status_code == 400
    assert "sleeve us_equity&#x27;s weight -5% is negative: a model holds, it does not short" in text(refused)
