"""A holding or sleeve weighted 0% on the Models page reached the database's check constraint
(sleeve_holding_weight_0_1, sleeve_weight_0_1) and answered 500; the service refuses it, naming the
holding or sleeve in percent, and writes nothing (the API's test: tests/api/test_model_zero_weight_holding.py)."""

import re

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import ModelPortfolio, ModelVersion, SleeveHolding

pytestmark = pytest.mark.django_db


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def _form(**changes) -> dict:
    return {"rows": "3", "note": "",
            "s0-asset_class": "us_equity", "s0-weight": "60", "s0-kind": "holdings", "s0-holdings": "VTI 80, XLE 20",
            "s1-asset_class": "bonds", "s1-weight": "30", "s1-kind": "holdings", "s1-holdings": "BND 100",
            "s2-asset_class": "real_estate", "s2-weight": "10", "s2-kind": "holdings", "s2-holdings": "VNQ 100",
            **changes}


def _counts(firm):
    with tenant_context(firm):
        return [ModelPortfolio.objects.count(), ModelVersion.objects.count(), SleeveHolding.objects.count()]


@pytest.mark.parametrize(("changes", "said"), [
    ({"s0-holdings": "VTI 100, XLE 0"}, "holding XLE of sleeve us_equity is weighted 0%"),
    ({"s0-weight": "70", "s2-weight": "0"}, "sleeve real_estate is weighted 0%"),
    ({"s0-holdings": "VTI 99.9999999999, XLE 0.0000000001"}, "holding XLE of sleeve us_equity&#x27;s weight "),
])
def test_a_zero_weight_on_the_model_page_is_refused_naming_it(book, as_user, firm_a, changes, said):
    client = as_user("admin")
    client.raise_request_exception = False
    before = _counts(firm_a)

    refused = client.post(f"/models/{book['model'].pk}/", _form(**changes))

    assert refused.status_code == 400, refused.content[:200]
    assert "The model was not saved" in text(refused) and said in text(refused)
    assert _counts(firm_a) == before


def test_a_new_model_with_a_zero_weight_holding_is_refused_on_the_page(book, as_user, firm_a):
    client = as_user("admin")
    client.raise_request_exception = False
    before = _counts(firm_a)
    form = {"rows": "1", "code": "zero", "name": "Zero", "s0-asset_class": "bonds", "s0-weight": "100",
            "s0-kind": "holdings", "s0-holdings": "BND 100, AGG 0"}

    refused = client.post("/models/new/", form)

    assert refused.status_code == 400, refused.content[:200]
    assert "holding AGG of sleeve bonds is weighted 0%" in text(refused)
    assert _counts(firm_a) == before
