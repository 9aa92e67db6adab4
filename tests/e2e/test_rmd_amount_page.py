"""In a real browser: an IRA whose owner's spouse, sole beneficiary, is more than 10 years younger.
The page says the product cannot compute the RMD (the Joint and Last Survivor Table), shows a field
for the custodian's figure, refuses one above the 31 December value by that field, keeps it, and the
year's RMD is then planned from it and alerted from it."""

import re
from decimal import Decimal

import pytest
from django_tenants.utils import schema_context
from playwright.sync_api import expect

from rebalancing.models import Account, CashFlow
from rebalancing.services.rmd import rmd_alerts_due
from tests.rebalancing.household_book import household_remove, make_unit_household

from .conftest import orm_beside_playwright


@pytest.fixture(scope="module")
def jls(e2e_firm, django_db_blocker):
    """A household of its own in the browser tests' firm (the second advisor's)."""
    schema = e2e_firm["firm"].schema_name
    with django_db_blocker.unblock(), orm_beside_playwright(), schema_context(schema):
        made = make_unit_household(advisor=e2e_firm["people"]["colleague"], external_id="HH-E2E-JLS", prefix="E2J")
    yield made
    with django_db_blocker.unblock(), orm_beside_playwright(), schema_context(schema):
        household_remove(made)


def test_the_custodians_rmd_is_entered_on_the_household_page_and_planned(jls, signed_in, firm_url, in_firm):
    from django.utils import timezone

    today = timezone.localdate()
    year = today.year
    page = signed_in("colleague")
    page.goto(firm_url(f"/households/{jls['household'].pk}/"))
    rmds = page.locator("#rmds")
    rmds.get_by_text("What E2J-IRA's RMD is computed from").click()
    facts = page.get_by_role("form", name="RMD facts of E2J-IRA")
    facts.get_by_label("Owner's date of birth").fill("1950-06-01")
    facts.get_by_label("Spouse's date of birth (only if sole beneficiary)").fill(f"{year - 56}-03-01")
    facts.get_by_label("Value on 31 December ($)").fill("100,000")
    facts.get_by_label("Of the year").fill(str(year - 1))
    facts.get_by_role("button", name="Save").click()
    expect(page.locator(".messages")).to_contain_text("RMD facts of E2J-IRA saved")
    # Not computed - never the Uniform table's larger figure -, and the field is there to enter it.
    expect(page.get_by_test_id("rmd-problem")).to_contain_text("Joint and Last Survivor Table applies")
    expect(rmds.get_by_role("button", name=re.compile("Plan the"))).to_have_count(0)
    rmds.get_by_role("link", name=f"Enter the {year} RMD from the custodian").click()
    field = page.get_by_label(f"RMD amount from the custodian for {year} ($)")
    expect(field).to_be_visible()

    # A figure above the 31 December value is refused by the field, as typed; nothing is kept.
    field.fill("100,000.01")
    page.get_by_role("form", name="RMD facts of E2J-IRA").get_by_role("button", name="Save").click()
    expect(page.get_by_role("alert").filter(has_text="is more than the IRA's value on 31 December")).to_be_visible()
    field = page.get_by_label(f"RMD amount from the custodian for {year} ($)")
    expect(field).to_have_value("100,000.01")
    expect(field).to_have_attribute("aria-invalid", "true")
    with in_firm():
        assert Account.objects.get(pk=jls["ira"].pk).rmd_amounts == {}

    field.fill("3,012.05")
    page.get_by_role("form", name="RMD facts of E2J-IRA").get_by_role("button", name="Save").click()
    expect(page.locator(".messages")).to_contain_text("RMD facts of E2J-IRA saved")
    expect(page.get_by_test_id("rmd-entered")).to_have_text("from the custodian")
    expect(page.locator("#rmds")).to_contain_text("$3,012.05 entered from the custodian")
    with in_firm():  # the nightly check alerts the figure entered
        [due] = rmd_alerts_due([jls["ira"].pk], as_of=today)
        assert due.remaining == Decimal("3012.05")

    plan = page.locator("#rmds").get_by_role("button", name="Plan the $3,012.05 left from E2J-IRA")
    plan.click()
    expect(page.locator(".messages")).to_contain_text("Required minimum distribution of $3,012.05 planned")
    expect(page.locator("#rmds").get_by_role("button", name=re.compile("Plan the"))).to_have_count(0)
    with in_firm():
        flow = CashFlow.objects.get(household=jls["household"], kind="rmd")
        assert (flow.amount, flow.plan["distributions"]) == (Decimal("3012.05"), {"E2J-IRA": 3012.05})
        assert rmd_alerts_due([jls["ira"].pk], as_of=today) == []
