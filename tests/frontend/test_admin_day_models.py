"""A model's form has rows for every sleeve a model has, and an "Add a sleeve" button that works
without JavaScript: it shows the form again, as typed, with one more blank row; nothing is saved.
Holdings naming one security twice in a sleeve say so, before any sum."""

import html
import re

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import ModelPortfolio

pytestmark = pytest.mark.django_db


def text(response) -> str:
    return re.sub(r"\s+", " ", html.unescape(response.content.decode()))


def sleeve_rows(response) -> int:
    return response.content.decode().count('class="sleeve-row"')


def _typed(**rows) -> dict:
    form = {"rows": "6", "code": "growth", "name": "Growth", "description": "All equity, mostly"}
    for i in range(6):
        form.update({f"s{i}-asset_class": "", f"s{i}-weight": "", f"s{i}-kind": "holdings", f"s{i}-holdings": ""})
    form.update(rows)
    return form


def test_a_new_model_has_rows_for_six_sleeves_and_an_add_a_sleeve_button(book, as_user):
    page = as_user("admin").get("/models/new/")

    assert sleeve_rows(page) == 6  # the demo models have 5 or 6 sleeves
    assert '<button type="submit" name="add_sleeve" value="1"' in page.content.decode()


def test_add_a_sleeve_keeps_what_was_typed_and_adds_one_blank_row(book, as_user, firm_a):
    client = as_user("admin")
    typed = _typed(**{f"s{i}-asset_class": f"class_{i}" for i in range(6)},
                   **{"s0-weight": "40", "s0-holdings": "VTI 100", "add_sleeve": "1"})

    shown = client.post("/models/new/", typed)

    assert shown.status_code == 200 and sleeve_rows(shown) == 7
    page = shown.content.decode()
    assert 'name="s6-asset_class" value=""' in page and 'name="s5-asset_class" value="class_5"' in page
    assert 'value="VTI 100"' in page and 'value="growth"' in page and "All equity, mostly</textarea>" in page
    assert 'role="alert"' not in page  # not a refusal: the form is still being typed
    with tenant_context(firm_a):
        assert not ModelPortfolio.objects.filter(code="growth").exists()

    # Pressed again on what it showed: one more row each time
    again = client.post("/models/new/", {**typed, "rows": "7", "s6-asset_class": "class_6", "s6-weight": "5"})
    assert sleeve_rows(again) == 8 and 'name="s6-asset_class" value="class_6"' in again.content.decode()


def test_editing_a_model_adds_a_sleeve_the_same_way(book, as_user, firm_a):
    client, model = as_user("admin"), book["model"]
    page = client.get(f"/models/{model.pk}/")
    assert sleeve_rows(page) == 6 and 'name="add_sleeve"' in page.content.decode()  # 3 sleeves, 3 blank

    form = {"rows": "3", "note": "adding gold",
            "s0-asset_class": "us_equity", "s0-weight": "60", "s0-kind": "holdings", "s0-holdings": "VTI 80, XLE 20",
            "s1-asset_class": "bonds", "s1-weight": "30", "s1-kind": "holdings", "s1-holdings": "BND 100",
            "s2-asset_class": "real_estate", "s2-weight": "10", "s2-kind": "holdings", "s2-holdings": "VNQ 100"}
    shown = client.post(f"/models/{model.pk}/", {**form, "add_sleeve": "1"})

    assert shown.status_code == 200 and 'value="adding gold"' in shown.content.decode()
    assert 'name="s2-holdings" value="VNQ 100"' in shown.content.decode()
    with tenant_context(firm_a):
        assert model.versions.count() == 1  # nothing saved


@pytest.mark.parametrize("url", ["/models/new/", "MODEL"])
def test_a_security_named_twice_in_a_sleeve_is_named_not_summed(book, as_user, firm_a, url):
    client, model = as_user("admin"), book["model"]
    url = f"/models/{model.pk}/" if url == "MODEL" else url
    form = {"rows": "2", "code": "twice", "name": "Twice", "note": "",
            "s0-asset_class": "us_equity", "s0-weight": "70", "s0-kind": "holdings", "s0-holdings": "VTI 50, VTI 50",
            "s1-asset_class": "bonds", "s1-weight": "30", "s1-kind": "holdings", "s1-holdings": "BND 100"}

    refused = client.post(url, form)

    assert refused.status_code == 400
    assert "VTI is named twice in sleeve us_equity" in text(refused)
    assert "sum to 50%" not in text(refused)
    with tenant_context(firm_a):
        assert not ModelPortfolio.objects.filter(code="twice").exists() and model.versions.count() == 1


def test_an_absurd_weight_is_refused_in_a_few_characters(book, as_user, firm_a):
    form = {"rows": "2", "code": "absurd", "name": "Absurd", "note": "",
            "s0-asset_class": "us_equity", "s0-weight": "1e400", "s0-kind": "holdings", "s0-holdings": "VTI 100",
            "s1-asset_class": "bonds", "s1-weight": "30", "s1-kind": "holdings", "s1-holdings": "BND 100"}

    refused = as_user("admin").post("/models/new/", form)

    page = text(refused)
    assert refused.status_code == 400
    assert "sleeve weights sum to 1.000E+400%, not 100%" in page
    assert "0" * 50 not in page
    with tenant_context(firm_a):
        assert not ModelPortfolio.objects.filter(code="absurd").exists()
