"""A provider admin onboards a firm in a real browser, from the console's link: a refused slug
keeps what was typed, the corrected form creates the firm and the console lists it."""

import re
import uuid

import pytest
from django_tenants.utils import schema_context
from playwright.sync_api import expect

from tenants.models import Firm
from tenants.roles import ProviderRole
from tenants.services import user_ensure
from tests.conftest import PASSWORD

from .conftest import _drop_firm, sign_in

PROVIDER_ADMIN = "admin@provider-e2e.example"
NEW_SLUG = "e2e-onboarded"


@pytest.fixture
def provider_admin(e2e_firm, django_db_blocker):
    with django_db_blocker.unblock(), schema_context("public"):
        _drop_firm(NEW_SLUG)
        user_ensure(username=PROVIDER_ADMIN, email=PROVIDER_ADMIN, roles=[ProviderRole.PROVIDER_ADMIN],
                    password=PASSWORD)
    yield PROVIDER_ADMIN
    with django_db_blocker.unblock(), schema_context("public"):
        _drop_firm(NEW_SLUG)


def test_a_provider_admin_onboards_a_firm_in_the_browser(provider_admin, e2e_server, page, django_db_blocker):
    sign_in(page, e2e_server, provider_admin)
    page.get_by_role("link", name="Onboard a firm").click()
    page.get_by_label("Firm name").fill("Juniper Advisors")
    page.get_by_label("Short name (slug)").fill("Juniper Advisors")
    page.get_by_label("First admin's e-mail (their login)").fill("admin@juniper.example")
    page.get_by_role("button", name="Onboard the firm").click()

    expect(page.get_by_role("alert")).to_contain_text("Invalid slug 'Juniper Advisors'")
    expect(page.get_by_label("Firm name")).to_have_value("Juniper Advisors")
    expect(page.get_by_label("First admin's e-mail (their login)")).to_have_value("admin@juniper.example")
    with django_db_blocker.unblock(), schema_context("public"):
        assert not Firm.objects.filter(name="Juniper Advisors").exists()

    page.get_by_label("Short name (slug)").fill(NEW_SLUG)
    page.get_by_role("button", name="Onboard the firm").click()

    expect(page.locator(".messages")).to_contain_text(
        re.compile(rf"Juniper Advisors is onboarded at {NEW_SLUG}\.localhost"), timeout=120_000)
    # The firm's own page follows: its name, its host, and it is on the console's list
    expect(page.get_by_role("heading", level=1)).to_contain_text("Juniper Advisors")
    expect(page.locator("table.data").first).to_contain_text(f"{NEW_SLUG}.localhost")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Firms", exact=True).click()
    expect(page.locator("table.data")).to_contain_text("Juniper Advisors")
    with django_db_blocker.unblock(), schema_context("public"):
        assert Firm.objects.get(slug=NEW_SLUG).admin_email == "admin@juniper.example"


def test_a_provider_admin_suspends_a_firm_whose_people_read_why_then_reactivates_it_and_invites_staff(
        provider_admin, e2e_server, firm_url, page, browser, django_db_blocker):
    from django.contrib.auth import get_user_model

    from .conftest import FIRM, PEOPLE

    reason = "Invoice unpaid since October"
    # a new address each run: a user, once invited, stays in the trail (no delete cascades across schemas)
    invited = f"olga-{uuid.uuid4().hex[:8]}@provider-e2e.example"
    sign_in(page, e2e_server, provider_admin)
    row = page.locator("tr", has_text=FIRM["name"])
    try:
        row.get_by_text("Suspend…").click()
        row.get_by_label(f"Why {FIRM['name']} is suspended").fill(reason)
        row.get_by_role("button", name="Suspend").click()
        expect(page.locator(".messages")).to_contain_text(f"{FIRM['name']} is suspended")
        expect(page.locator("tr", has_text=FIRM["name"])).to_contain_text(reason)

        # the firm's portfolio manager reads why on every page, and a run is refused with it
        firm_page = browser.new_page()
        sign_in(firm_page, firm_url(), PEOPLE["pm"][0])
        expect(firm_page.get_by_role("note")).to_contain_text(f"{FIRM['name']} is suspended by its provider")
        expect(firm_page.get_by_role("note")).to_contain_text(reason)
        firm_page.close()
    finally:
        page.goto(e2e_server + "/")
        page.locator("tr", has_text=FIRM["name"]).get_by_role("button", name="Reactivate").click()
    expect(page.locator(".messages")).to_contain_text(f"{FIRM['name']} is active again")
    with django_db_blocker.unblock(), schema_context("public"):
        assert Firm.objects.get(slug=FIRM["slug"]).status == Firm.Status.ACTIVE

    # the provider's own staff, from the console's Staff page
    page.get_by_role("link", name="Staff").click()
    page.get_by_label("E-mail address").fill(invited)
    page.get_by_role("checkbox", name=re.compile(r"^Provider operator —")).check()
    page.get_by_role("button", name="Send the invitation").click()
    expect(page.locator(".messages")).to_contain_text(f"Invited {invited}")
    expect(page.locator("table.data")).to_contain_text(invited)
    with django_db_blocker.unblock(), schema_context("public"):
        assert list(get_user_model().objects.get(username=invited).groups.values_list("name", flat=True)) == [
            "provider_operator"]
