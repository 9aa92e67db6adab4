"""A parameter form's number typed in another script's digits ("٣", "３") is named by its field, and
the template is unchanged: float("٣") is 3.0, so before it was saved as 3."""

import pytest
from django_tenants.utils import tenant_context

from tenants.audit.models import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("typed", ["٣", "３", "1٠"])
def test_a_setting_in_other_digits_is_refused_and_the_template_unchanged(book, as_user, firm_a, typed):
    template = book["template"]
    with tenant_context(firm_a):
        template.refresh_from_db()
        before = (template.parameters, template.overridable)

    response = as_user("admin").post(f"/templates/{template.pk}/", {"name": template.name,
                                                                     "p__cash__target": typed})

    assert response.status_code == 400 and "is a digit outside 0-9" in response.content.decode()
    with tenant_context(firm_a):
        template.refresh_from_db()
        assert (template.parameters, template.overridable) == before
        assert not AuditEvent.objects.filter(action="template.change").exists()


@pytest.mark.parametrize(("field", "typed"), [("amount", "٥٠٠٠٠٠"), ("years", "１"), ("short_term_rate", "٤٠")])
def test_a_backtest_typed_in_other_digits_is_named_by_its_field_and_nothing_starts(firm_a, as_user, field, typed):
    from rebalancing.models import Backtest

    form = {"name": "Smith family", "template": "", "basket": "sample", "prices": "sample", "amount": "500000",
            "start": "2008-06-30", "years": "1", "cohorts": "1", "short_term_rate": "40.8", "long_term_rate": "23.8",
            "losses": "offset", field: typed}

    page = as_user("pm").post("/backtests/", form)

    assert page.status_code == 200 and "is a digit outside 0-9" in page.content.decode()
    assert f'value="{typed}"' in page.content.decode()  # kept as typed, to correct it
    with tenant_context(firm_a):
        assert not Backtest.objects.exists()
