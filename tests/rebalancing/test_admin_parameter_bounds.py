"""The admin's template form holds templates to the rules every other path does: the engine's bounds
(an ESG minimum of -5, a cash floor above the target), limits whose minimum is above their maximum,
securities the firm's master does not hold, and a range that leaves out the template's own value."""

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import ParameterTemplate

from . import test_admin
from .book import make_book

admin_client_a = test_admin.admin_client_a  # a firm admin signed in to the admin site of firm A

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("parameters", "overridable", "says"), [
    ('{"screen": {"enabled": true, "min_esg_score": -5}}', "{}", "must be from 0 to 100, got -5"),
    ('{"cash": {"target": 0.01, "floor": 0.05}}', "{}", "must not be above cash.target"),
    ("{}", '{"cash.target": {"min": 0.05, "max": 0.01}}', "the minimum 5% is above the maximum 1%"),
    ('{"restrictions": {"do_not_buy": ["ZZZZZ"]}}', "{}", "names ZZZZZ"),
    ('{"cash": {"target": 0.01}}', '{"cash.target": {"min": 0.05, "max": 0.1}}', "Template refused"),
])
def test_a_template_the_rules_refuse_is_refused_in_the_admin_too(firm_a, admin_client_a, parameters, overridable,
                                                                 says):
    with tenant_context(firm_a):
        template = make_book(1)["template"]
        before = (template.parameters, template.overridable)

    page = admin_client_a.post(f"/admin/rebalancing/parametertemplate/{template.pk}/change/", {
        "code": template.code, "name": template.name, "description": "",
        "parameters": parameters, "overridable": overridable})

    assert page.status_code == 200 and says in page.content.decode()
    with tenant_context(firm_a):
        stored = ParameterTemplate.objects.get(pk=template.pk)
        assert (stored.parameters, stored.overridable) == before
