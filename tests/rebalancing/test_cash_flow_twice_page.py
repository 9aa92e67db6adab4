"""The household page's "Plan the $... left from <IRA>" form sent twice (a second tab, a page left
open) plans the RMD once: the second is refused above the form, naming the household proposal that
planned it and that nothing is left. Before, it made a second household proposal beside the first,
both pending, and the RMD table read "Taken or planned" twice the RMD. The cash-flow form's
withdrawal sent twice is refused the same way unless "A second one" is ticked."""

from datetime import date
from decimal import Decimal

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from rebalancing.models import CashFlow, HouseholdProposal
from rebalancing.services.rmd import account_rmd_facts_set
from tenants.roles import FirmRole

from .household_book import make_unit_household
from .workflow import policy

pytestmark = pytest.mark.django_db


@pytest.fixture
def page(firm_a, firm_user, client_for):
    advisor = firm_user(firm_a, "adv@twice-page.example", FirmRole.ADVISOR)
    today = timezone.localdate()
    with tenant_context(firm_a):
        policy(auto_approve=False, max_price_age_days=3650, compliance_min_turnover=10, compliance_min_estimated_tax=10**9)
        made = make_unit_household(advisor=advisor)
        account_rmd_facts_set(user=advisor, account=made["ira"], owner_birth_date=date(1950, 6, 1),
                              spouse_birth_date=None, year_end_value=Decimal("100000"), year_end_year=today.year - 1,
                              today=today, owner_name=None)
    yield {**made, "client": client_for(firm_a, advisor), "url": f"/households/{made['household'].pk}/"}


def _plan_it_form(html: str, ira) -> dict:
    """The hidden fields of the RMD row's "Plan the ... left" form, as the browser sends them."""
    start = html.index(f'<input type="hidden" name="account" value="{ira.pk}">')
    amount = html[start:].split('name="amount" value="', 1)[1].split('"', 1)[0]
    return {"kind": "rmd", "account": str(ira.pk), "amount": amount}


def test_the_plan_it_form_sent_twice_plans_the_rmd_once(page, firm_a):
    client, url = page["client"], page["url"]
    shown = client.get(url).content.decode()
    form = _plan_it_form(shown, page["ira"])
    assert f"Plan the ${Decimal(form['amount']):,.2f} left from LEE-IRA" in shown

    first = client.post(url + "cash-flows/", form, follow=True).content.decode()
    assert f"Required minimum distribution of ${Decimal(form['amount']):,.2f} planned" in first
    with tenant_context(firm_a):
        together = HouseholdProposal.objects.get(household=page["household"])

    # the same form again, from the page as it was before
    again = client.post(url + "cash-flows/", form, follow=True).content.decode()

    assert f"is already taken or planned (in household proposal #{together.pk}, an RMD of" in again
    assert "$0.00 left to plan" in again
    with tenant_context(firm_a):
        assert CashFlow.objects.filter(household=page["household"]).count() == 1
        assert HouseholdProposal.objects.filter(household=page["household"]).count() == 1


def test_the_same_withdrawal_sent_twice_is_refused_unless_ticked_a_second_one(page, firm_a):
    client, url = page["client"], page["url"]
    form = {"kind": "withdrawal", "amount": "700", "account": str(page["joint"].pk), "reference": ""}
    client.post(url + "cash-flows/", form)

    again = client.post(url + "cash-flows/", form, follow=True).content.decode()
    assert "The same withdrawal of $700.00 from LEE-JT is already planned in household proposal #" in again
    with tenant_context(firm_a):
        assert CashFlow.objects.filter(household=page["household"]).count() == 1

    client.post(url + "cash-flows/", {**form, "repeat": "1"})
    with tenant_context(firm_a):
        assert CashFlow.objects.filter(household=page["household"], amount=700).count() == 2
