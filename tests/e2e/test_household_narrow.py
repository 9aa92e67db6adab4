"""The household page on a tablet and a phone: its wide tables (the RMDs with their "Plan it"
buttons, the cash flows with their funding steps) scroll inside their frames; the page itself never
scrolls sideways. A header read only by screen readers, positioned out of the table's flow,
escaped its frame and widened the page at 768px."""

from datetime import date
from decimal import Decimal

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context
from playwright.sync_api import expect

from rebalancing.models import Account
from rebalancing.services.cash_flows import cash_flow_enter
from tests.rebalancing.household_book import household_remove, make_unit_household

from .conftest import PEOPLE, orm_beside_playwright, sign_in


@pytest.fixture(scope="module")
def narrow_household(e2e_firm, django_db_blocker):
    """A household (the second advisor's) with an RMD to plan and a withdrawal funded by sales."""
    schema, advisor = e2e_firm["firm"].schema_name, e2e_firm["people"]["colleague"]
    with django_db_blocker.unblock(), orm_beside_playwright(), schema_context(schema):
        made = make_unit_household(advisor=advisor, external_id="HH-E2E-NARROW", prefix="E2N")
        last_year = timezone.localdate().year - 1
        Account.objects.filter(pk=made["ira"].pk).update(owner_name="Ann Narrow", owner_birth_date=date(1950, 6, 1),
                                                         year_end_values={str(last_year): "100000.00"})
        # From the joint account: a withdrawal from the household would take the IRA's RMD first, leaving none to plan.
        cash_flow_enter(user=advisor, household=made["household"], kind="withdrawal", amount=Decimal("20000"),
                        account=made["joint"])
    yield made
    with django_db_blocker.unblock(), orm_beside_playwright(), schema_context(schema):
        household_remove(made)


@pytest.mark.parametrize("width", [768, 390])
def test_the_household_page_never_scrolls_sideways(narrow_household, browser, firm_url, width):
    context = browser.new_context(viewport={"width": width, "height": 900}, locale="en-US")
    page = context.new_page()
    try:
        sign_in(page, firm_url("").rstrip("/"), PEOPLE["colleague"][0])
        page.goto(firm_url(f"/households/{narrow_household['household'].pk}/"))
        rmds = page.locator("#rmds .table-wrap").first
        expect(rmds).to_contain_text("Plan the $")
        expect(page.locator("[data-testid=funding-steps]").first).to_contain_text("Sell 100 BND")

        widths = page.evaluate("() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]")
        assert widths[0] <= widths[1], f"the page scrolls sideways at {width}px: {widths[0]}px wide"
        # The tables are wider than the screen and scroll in their own frames.
        for frame in (rmds, page.locator("#cash-flows > .table-wrap")):
            inner, shown = frame.evaluate("e => [e.scrollWidth, e.clientWidth]")
            assert inner > shown and frame.evaluate("e => getComputedStyle(e).overflowX") == "auto"
    finally:
        context.close()
