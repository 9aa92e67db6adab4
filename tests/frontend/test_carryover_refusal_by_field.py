"""A refused opening carryover on the household page names its field - the first spouse's part or the
second's, short- or long-term - and says so beside it, marked invalid, as the RMD facts form does.

Found in the browser (2026-12-07): "The the second spouse's short-term loss carried in is a loss
written as a positive amount", letters in any of the four fields said only "The loss carried in must
be a number", and the error stood at the top of the page, far from the form."""

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import Household

from .test_household_tax_pages import _url, lees  # noqa: F401 - the fixture

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("field, typed, says", [
    ("carryforward_second_short_term", "-5",
     "The second spouse&#x27;s part of the short-term loss carried in is a loss written as a positive amount"),
    ("carryforward_second_long_term", "abc",
     "The second spouse&#x27;s part of the long-term loss carried in must be an amount in dollars"),
    ("carryforward_short_term", "abc",
     "The short-term loss carried in (the household&#x27;s, or the first spouse&#x27;s part when married) must be an "
     "amount in dollars"),
    ("carryforward_long_term", "-1", "The long-term loss carried in (the household&#x27;s, or the first spouse&#x27;s "
                                     "part when married) is a loss written as a positive amount"),
])
def test_a_refused_carryover_is_named_and_shown_beside_its_field(lees, as_user, firm_a, field, typed, says):  # noqa: F811
    advisor, household = as_user("advisor"), lees["household"]
    form = {"filing_status": "married_joint", "carryforward_year": "2026", "carryforward_short_term": "100",
            "carryforward_long_term": "0", "carryforward_second_short_term": "0", "carryforward_second_long_term": "0",
            field: typed}
    html = advisor.post(_url(household, "tax/"), form, follow=True).content.decode()
    assert "The the " not in html
    ids = {"carryforward_short_term": "t-short", "carryforward_long_term": "t-long",
           "carryforward_second_short_term": "t-short2", "carryforward_second_long_term": "t-long2"}
    # the field holds what was typed, is marked invalid and points to its error, which says why
    assert (f'name="{field}" inputmode="decimal" value="{typed}" aria-invalid="true" '
            f'aria-describedby="{ids[field]}-error t-carried-hint">') in html
    error = html.split(f'<div class="error" id="{ids[field]}-error" role="alert">', 1)[1].split("</div>", 1)[0]
    assert error.startswith(says), error
    # only that field is marked
    assert html.count('aria-describedby="t-short-error') + html.count('aria-describedby="t-long-error') + \
        html.count('aria-describedby="t-short2-error') + html.count('aria-describedby="t-long2-error') == 1
    with tenant_context(firm_a):
        assert Household.objects.get(pk=household.pk).carryforward_year is None  # nothing written
