"""Templates of the same name told apart: every template picker shows the template's code beside its
name (codes are unique; names are not), as the reports' household picker shows the household's ID.
The firm-wide lists under Templates say where they are in their breadcrumb."""

import html
import re

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import ParameterTemplate

pytestmark = pytest.mark.django_db


def text(response) -> str:
    return re.sub(r"\s+", " ", html.unescape(response.content.decode()))


def test_every_template_picker_tells_templates_of_one_name_apart(book, as_user, firm_a):
    with tenant_context(firm_a):
        for n in (1, 2):
            ParameterTemplate.objects.create(code=f"qa-t-{n}", name="QA t")
    household = book["accounts"][0].household

    for role, path in (("admin", "/accounts/assign/"), ("admin", "/accounts/"), ("pm", "/runs/"),
                       ("pm", "/backtests/"), ("admin", "/households/"), ("admin", f"/households/{household.pk}/")):
        page = text(as_user(role).get(path))
        assert ">QA t (qa-t-1)</option>" in page and ">QA t (qa-t-2)</option>" in page, path


@pytest.mark.parametrize(("path", "crumb"), [("/securities/equivalents/", "Substantially identical securities"),
                                             ("/securities/substitutes/", "Harvest substitutes")])
def test_the_firm_wide_lists_name_themselves_in_the_breadcrumb(book, as_user, path, crumb):
    page = text(as_user("admin").get(path))

    assert f'<p class="crumbs"><a href="/templates/">Templates</a> › {crumb}</p>' in page


def test_a_substitute_that_is_itself_is_refused_with_harvesting_off(book, as_user, firm_a):
    """Saved before (harvesting off: the group was not checked), it failed every run once an account
    switched harvesting on."""
    from django_tenants.utils import tenant_context

    from .test_admin_day_model_template_saves import _template_form

    client, template = as_user("admin"), book["template"]
    url = f"/templates/{template.pk}/"
    with tenant_context(firm_a):
        before = dict(template.parameters)
    refused = client.post(url, {**_template_form(client.get(url)), "p__harvest__substitutes": ["VTI = VTI"]})
    assert refused.status_code == 400 and "VTI as its own substitute" in refused.content.decode()
    with tenant_context(firm_a):
        template.refresh_from_db()
        assert template.parameters == before
