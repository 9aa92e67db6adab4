"""A model's holding (or sleeve) weighted 0 - a weight the serializer lets through (``>= 0``) - reaches
the database's check constraint ``sleeve_holding_weight_0_1`` and answers 500 with the HTML error
page, on POST models/ and POST models/{id}/versions/. It must be 400 ``invalid`` naming the holding
(the model_weights file says "a sleeve or holding of 0% is left out of the file"), writing nothing."""

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import ModelPortfolio, ModelVersion, SleeveHolding

from .conftest import API, error_of

pytestmark = pytest.mark.django_db


def _counts(firm):
    with tenant_context(firm):
        return [ModelPortfolio.objects.count(), ModelVersion.objects.count(), SleeveHolding.objects.count()]


@pytest.mark.parametrize("zero", ["0", 0, "0.00"])
def test_a_new_version_with_a_holding_of_zero_weight_is_refused_naming_it(firm_a, people, book, client_for, zero):
    client = client_for(firm_a, people["admin"])
    client.raise_request_exception = False
    before = _counts(firm_a)

    answer = client.post(f"{API}/models/{book['model'].pk}/versions/", {"sleeves": [
        {"asset_class": "us_equity", "weight": "1", "holdings": {"VTI": zero, "ITOT": "1"}}]},
        content_type="application/json")

    assert answer.status_code == 400, answer.content[:200]
    body = error_of(answer)
    assert body["code"] == "invalid" and "VTI" in str(body)
    assert _counts(firm_a) == before


def test_a_new_model_with_a_holding_of_zero_weight_is_refused_naming_it(firm_a, people, book, client_for):
    client = client_for(firm_a, people["admin"])
    client.raise_request_exception = False
    before = _counts(firm_a)

    answer = client.post(f"{API}/models/", {"code": "zero", "name": "Zero", "sleeves": [
        {"asset_class": "us_equity", "weight": "1", "holdings": {"VTI": "0", "ITOT": "1"}}]},
        content_type="application/json")

    assert answer.status_code == 400, answer.content[:200]
    assert error_of(answer)["code"] == "invalid" and "VTI" in answer.content.decode()
    assert _counts(firm_a) == before


def test_a_sleeve_of_zero_weight_beside_others_is_refused_not_a_server_error(firm_a, people, book, client_for):
    client = client_for(firm_a, people["admin"])
    client.raise_request_exception = False
    before = _counts(firm_a)

    answer = client.post(f"{API}/models/{book['model'].pk}/versions/", {"sleeves": [
        {"asset_class": "us_equity", "weight": "1", "holdings": {"VTI": "1"}},
        {"asset_class": "bonds", "weight": "0", "holdings": {"BND": "1"}}]}, content_type="application/json")

    assert answer.status_code in (201, 400), answer.content[:200]
    if answer.status_code == 400:
        assert error_of(answer)["code"] == "invalid"
        assert _counts(firm_a) == before
