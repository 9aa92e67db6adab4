"""A model's form refuses a half-filled sleeve row (a weight or holdings but no asset class, an asset
class but no weight), naming the row and what it holds; nothing is saved and the form comes back as
typed. An entirely empty row is still ignored."""

import html
import re

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import ModelPortfolio

pytestmark = pytest.mark.django_db


def text(response) -> str:
    return re.sub(r"\s+", " ", html.unescape(response.content.decode()))


def _edit(**rows) -> dict:
    """The model's three sleeves (60/30/10), a blank fourth row, then ``rows`` on top."""
    form = {"rows": "4", "note": "shifting to bonds",
            "s0-asset_class": "us_equity", "s0-weight": "60", "s0-kind": "holdings", "s0-holdings": "VTI 100",
            "s1-asset_class": "bonds", "s1-weight": "30", "s1-kind": "holdings", "s1-holdings": "BND 100",
            "s2-asset_class": "real_estate", "s2-weight": "10", "s2-kind": "holdings", "s2-holdings": "VNQ 100",
            "s3-asset_class": "", "s3-weight": "", "s3-kind": "holdings", "s3-holdings": ""}
    form.update(rows)
    return form


def test_a_weight_without_an_asset_class_is_refused_naming_the_row(book, as_user, firm_a):
    # Given the bonds sleeve cut to 20% and 10% typed on the blank row 4, with no asset class
    client, model = as_user("admin"), book["model"]

    # When saved
    refused = client.post(f"/models/{model.pk}/", _edit(**{"s1-weight": "20", "s3-weight": "10"}))

    # Then refused: the row named with its weight, nothing saved, the form as typed
    assert refused.status_code == 400
    assert "row 4 has a weight of 10% but no asset class" in text(refused)
    page = refused.content.decode()
    assert 'name="s3-weight" value="10"' in page and 'name="s1-weight" value="20"' in page
    assert 'value="shifting to bonds"' in page
    with tenant_context(firm_a):
        assert model.versions.count() == 1


def test_an_asset_class_cleared_on_a_sleeve_with_holdings_is_refused_not_dropped(book, as_user, firm_a):
    # Given an existing sleeve whose asset class was cleared (weight and holdings left), the rest summing to 90
    client, model = as_user("admin"), book["model"]
    typed = _edit(**{"s2-asset_class": "", "s0-weight": "60", "s1-weight": "30"})

    refused = client.post(f"/models/{model.pk}/", typed)

    assert refused.status_code == 400
    assert "row 3 has a weight of 10%, holdings “VNQ 100” but no asset class" in text(refused)
    with tenant_context(firm_a):
        assert model.versions.count() == 1


def test_holdings_alone_on_a_new_model_row_are_refused(book, as_user, firm_a):
    form = {"rows": "3", "code": "lonely", "name": "Lonely", "description": "",
            "s0-asset_class": "us_equity", "s0-weight": "100", "s0-kind": "holdings", "s0-holdings": "VTI 100",
            "s1-asset_class": "", "s1-weight": "", "s1-kind": "holdings", "s1-holdings": "BND 100",
            "s2-asset_class": "", "s2-weight": "", "s2-kind": "holdings", "s2-holdings": ""}

    refused = as_user("admin").post("/models/new/", form)

    assert refused.status_code == 400
    assert "row 2 has holdings “BND 100” but no asset class" in text(refused)
    assert "row 3" not in text(refused)  # the empty row is not a problem
    assert 'name="s1-holdings" value="BND 100"' in refused.content.decode()
    with tenant_context(firm_a):
        assert not ModelPortfolio.objects.filter(code="lonely").exists()


def test_an_asset_class_without_a_weight_names_the_row(book, as_user, firm_a):
    client, model = as_user("admin"), book["model"]

    refused = client.post(f"/models/{model.pk}/", _edit(**{"s2-weight": ""}))

    assert refused.status_code == 400
    assert "row 3 (real_estate) has no weight" in text(refused)
    with tenant_context(firm_a):
        assert model.versions.count() == 1


def test_empty_and_removed_rows_are_still_ignored(book, as_user, firm_a):
    # Given real estate removed (its row still typed) and a blank fourth row, the rest summing to 100
    client, model = as_user("admin"), book["model"]
    typed = _edit(**{"s0-weight": "70", "s2-remove": "1"})

    saved = client.post(f"/models/{model.pk}/", typed)

    assert saved.status_code == 302
    with tenant_context(firm_a):
        version = model.versions.order_by("-number").first()
        assert version.number == 2
        assert sorted(s.asset_class for s in version.sleeves.all()) == ["bonds", "us_equity"]
