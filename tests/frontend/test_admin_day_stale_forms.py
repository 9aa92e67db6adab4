"""Two tabs on one template (or model): the form carries what it was opened on, and a save after
someone else's is refused, naming who and when, with nothing written; before, the second save
silently undid the first."""

import html
import re

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import ModelVersion, ParameterTemplate
from tenants.audit.models import AuditEvent

from .test_admin_day_model_template_saves import _form as _model_form
from .test_firm_admin_pages import _template_form

pytestmark = pytest.mark.django_db


def text(response) -> str:
    return re.sub(r"\s+", " ", html.unescape(response.content.decode()))


def test_a_template_saved_from_a_stale_tab_is_refused_and_the_first_save_stands(firm_a, book, as_user):
    client, template = as_user("admin"), book["template"]
    url = f"/templates/{template.pk}/"
    tab_a, tab_b = _template_form(client.get(url)), _template_form(client.get(url))
    assert tab_a["opened"][0]

    saved_a = client.post(url, {**tab_a, "p__trading__min_trade_value": ["600"]}, follow=True)
    assert "saved" in text(saved_a)
    with tenant_context(firm_a):
        changes = AuditEvent.objects.filter(action="template.change").count()

    saved_b = client.post(url, {**tab_b, "p__cash__target": ["3"]})

    assert saved_b.status_code == 400
    words = text(saved_b)
    assert re.search(r"was changed by admin@pages\.example at \d{4}-\d\d-\d\d \d\d:\d\d UTC since you opened it, "
                     r"so nothing was saved .* Reload the page", words)
    with tenant_context(firm_a):
        stored = ParameterTemplate.objects.get(pk=template.pk)
        assert stored.parameters["trading"]["min_trade_value"] == 600
        assert stored.parameters.get("cash", {}).get("target") != 0.03
        assert AuditEvent.objects.filter(action="template.change").count() == changes
    # Reloaded, the same change is saved
    fresh = _template_form(client.get(url))
    again = client.post(url, {**fresh, "p__cash__target": ["3"]}, follow=True)
    assert "saved" in text(again)
    with tenant_context(firm_a):
        stored = ParameterTemplate.objects.get(pk=template.pk)
        assert stored.parameters["trading"]["min_trade_value"] == 600 and stored.parameters["cash"]["target"] == 0.03


def test_a_model_version_saved_from_a_stale_tab_is_refused(firm_a, book, as_user):
    client, model = as_user("admin"), book["model"]
    page = client.get(f"/models/{model.pk}/").content.decode()
    assert 'name="opened" value="1"' in page

    first = client.post(f"/models/{model.pk}/", _model_form(opened="1", **{"s0-holdings": "VTI 70, XLE 30"}),
                        follow=True)
    assert "Version 2 of Balanced saved" in text(first)
    stale = client.post(f"/models/{model.pk}/", _model_form(opened="1", **{"s2-holdings": "VNQ 50, IYR 50"}))

    assert stale.status_code == 400
    assert re.search(r"Model Balanced \(now version 2\) was changed by Admin .*since you opened it, so nothing was saved",
                     text(stale))
    with tenant_context(firm_a):
        assert ModelVersion.objects.filter(model=model).count() == 2
