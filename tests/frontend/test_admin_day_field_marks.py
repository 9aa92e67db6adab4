"""A refused form marks the field it is about (aria-invalid) and says why beside it, not only at
the top: the model editor (in words, not "code: This field cannot be blank."), the approval
policy, the restricted list and the template's symbol fields."""

import html
import re

import pytest

from .test_firm_admin_pages import _template_form

pytestmark = pytest.mark.django_db


def marked(page: str, name: str) -> str:
    """The error beside the field ``name``, which is marked invalid and pointed at it ('' if not)."""
    tag = re.search(rf'<(?:input|select|textarea)[^>]*name="{name}"[^>]*>', page)
    if not tag or 'aria-invalid="true"' not in tag.group(0):
        return ""
    error_id = re.search(r'aria-describedby="(?:help_\S+ )?([\w-]+)', tag.group(0)).group(1)
    found = re.search(rf'id="{error_id}"[^>]*>([^<]*)<', page)
    return html.unescape(found.group(1)) if found else ""


SLEEVE = {"rows": "1", "s0-asset_class": "us_equity", "s0-weight": "100", "s0-kind": "holdings", "s0-holdings": "VTI 100"}


def test_a_new_model_without_a_code_or_with_a_taken_one_is_refused_beside_the_code(book, as_user):
    client = as_user("admin")
    blank = client.post("/models/new/", {**SLEEVE, "code": "", "name": "Growth"}).content.decode()
    assert "Give the model a code" in marked(blank, "code")
    assert "This field cannot be blank" not in blank

    taken = client.post("/models/new/", {**SLEEVE, "code": book["model"].code, "name": "Other"}).content.decode()
    assert f"The code “{book['model'].code}” is the model “Balanced”'s" in marked(taken, "code")
    assert "already exists" not in taken


def test_the_approval_policy_marks_the_limit_it_refuses(book, as_user):
    client = as_user("admin")
    form = {"auto_max_estimated_tax": "500", "auto_max_turnover": "10", "auto_max_trades": "20",
            "compliance_min_estimated_tax": "100", "compliance_min_turnover": "20", "max_price_age_days": "3"}
    page = client.post("/policy/", form).content.decode()
    assert "tax limit is above the tax at which compliance must approve" in marked(page, "auto_max_estimated_tax")
    assert marked(page, "compliance_min_estimated_tax") and not marked(page, "auto_max_turnover")

    unread = client.post("/policy/", {**form, "compliance_min_estimated_tax": "1000",
                                               "auto_max_trades": "lots"}).content.decode()
    assert marked(unread, "auto_max_trades")


def test_the_restricted_list_marks_the_symbol_it_does_not_know(book, as_user):
    page = as_user("admin").post("/restricted/", {"action": "add", "symbol": "ZZZQ", "restriction": "do_not_buy",
                                                  "reason": "deal", "starts_on": "2026-01-05"}).content.decode()
    assert "ZZZQ" in marked(page, "symbol")


@pytest.mark.parametrize(("name", "typed", "said"), [
    ("p__screen__excluded_symbols", "ZZZQ", "ZZZQ"),
])
def test_the_template_marks_the_symbol_setting_it_refuses(book, as_user, name, typed, said):
    client, template = as_user("admin"), book["template"]
    url = f"/templates/{template.pk}/"
    page = client.post(url, {**_template_form(client.get(url)), name: [typed]}).content.decode()
    assert said in marked(page, name)
