"""Screenshots of the main pages for the README, taken from the real pages in the browser tests'
firm. Every run takes them (and checks each stays under ~300 KB: a page too long for that is shot at
the window's height); they replace docs/screenshots/ only with UPDATE_SCREENSHOTS=1, so an ordinary
test run leaves the committed pictures alone."""

import re

from playwright.sync_api import expect

from .conftest import OPERATOR, sign_in


def test_screenshots_of_the_main_pages(e2e_firm, e2e_server, firm_url, page, browser, shot):
    book = e2e_firm["book"]
    page.goto(firm_url("/accounts/login/"))
    expect(page.get_by_role("heading", name=re.compile("Sign in to Evergreen Wealth"))).to_be_visible()
    shot(page, "sign-in")

    sign_in(page, firm_url("").rstrip("/"), "advisor1@e2e.example")
    shot(page, "dashboard")
    page.goto(firm_url("/approvals/"))
    shot(page, "approvals")
    page.locator("table.data tbody tr").first.get_by_role("link", name=re.compile(r"#\d+")).click()
    expect(page.get_by_role("heading", name="Trades and why")).to_be_visible()
    page.locator("details summary").first.click()  # the lots sold by the first sale
    page.wait_for_timeout(300)
    shot(page, "proposal")

    account = book["mine"][0]
    page.goto(firm_url(f"/accounts/{account.pk}/"))
    page.wait_for_timeout(500)  # charts drawn
    shot(page, "account", full_page=False)
    page.locator("#id_p__cash__target").fill("4")
    page.get_by_role("button", name="Preview the effect").click()
    expect(page.locator("#preview")).to_contain_text("With your changes", timeout=20_000)
    shot(page.locator("#parameters"), "account-what-if")

    page.context.clear_cookies()
    sign_in(page, firm_url("").rstrip("/"), "admin@e2e.example")
    page.goto(firm_url("/accounts/"))
    shot(page, "accounts")
    page.goto(firm_url(f"/templates/{book['template'].pk}/"))
    page.locator("#id_p__screen__enabled").select_option("yes")
    page.locator("input[name=p__screen__excluded_tags][value=fossil_fuels]").check()
    page.get_by_role("button", name="Preview the effect on accounts").click()
    expect(page.get_by_test_id("preview-headline")).to_be_visible(timeout=30_000)
    shot(page.locator("#preview"), "template-preview")
    page.goto(firm_url(f"/models/{book['model'].pk}/"))
    shot(page, "model", full_page=False)
    page.goto(firm_url(f"/runs/{book['run'].pk}/"))
    shot(page, "run")
    page.goto(firm_url("/audit/"))
    shot(page, "audit-log", full_page=False)

    tablet = browser.new_context(viewport={"width": 820, "height": 1180}, is_mobile=True, has_touch=True)
    tablet_page = tablet.new_page()
    sign_in(tablet_page, firm_url("").rstrip("/"), "advisor1@e2e.example")
    tablet_page.goto(firm_url("/accounts/"))
    shot(tablet_page, "accounts-tablet", full_page=False)
    tablet.close()

    page.context.clear_cookies()
    sign_in(page, e2e_server, OPERATOR)
    expect(page.get_by_role("heading", name="Client firms")).to_be_visible()
    shot(page, "provider-console")
