"""A firm admin's day in a real browser: assign a template to a filtered selection of accounts, import
a CSV file, invite someone (who then chooses a password and signs in), edit the approval policy in %
and $, create an API key shown once and use it. Each journey takes its screenshot for the docs."""

import json
import re
import urllib.request

from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from rebalancing.models import Account, ApprovalPolicy, Security
from rebalancing.services.people import set_password_path


def main_nav(page):
    return page.get_by_role("navigation", name="Main")


def test_a_firm_admin_assigns_a_template_to_the_accounts_a_filter_selects(e2e_firm, signed_in, in_firm, shot):
    page = signed_in("admin")
    main_nav(page).get_by_role("link", name="Accounts").click()
    page.get_by_label("Advisor").select_option(label="Blake Advisor (advisor2@e2e.example)")
    page.get_by_role("button", name="Filter").click()
    page.get_by_role("link", name="Assign a template or model to these 3 accounts").click()
    expect(page.get_by_test_id("selection-count")).to_contain_text("3 accounts in 3 households")
    page.get_by_label("Parameter template").select_option(label="Standard (standard)")
    shot(page, "firm-admin-assign-template")
    page.get_by_role("button", name="Assign").click()
    expect(page.locator(".messages")).to_contain_text("Assigned to 3 accounts")
    with in_firm():
        theirs = [a.pk for a in e2e_firm["book"]["theirs"]]
        assert set(Account.objects.filter(template=e2e_firm["book"]["template"]).values_list("pk", flat=True)) == set(
            theirs)


def test_assigning_to_every_account_asks_first_with_the_count_and_the_chosen_template(e2e_firm, signed_in, in_firm):
    # Given the accounts page with no filter: every account of the firm
    with in_firm():
        count = Account.objects.count()
        before = dict(Account.objects.values_list("pk", "template_id"))
    page = signed_in("admin")
    main_nav(page).get_by_role("link", name="Accounts").click()
    page.get_by_role("link", name=re.compile("Assign a template or model")).click()
    page.get_by_label("Parameter template").select_option(label="Standard (standard)")
    asked = []

    def answer(dialog):
        asked.append(dialog.message)
        dialog.dismiss()

    # When the admin clicks Assign, then cancels the question
    page.once("dialog", answer)
    page.get_by_role("button", name="Assign").click()

    # Then it named the count and the choices (app.js filled them in), and nothing was assigned
    expect(page.get_by_role("heading", name="Assign a template or model")).to_be_visible()
    assert asked == [f"Assign to all {count} accounts of the firm (no filter)? Template: Standard (standard); "
                     "model: unchanged. If any account's overrides do not fit the template, nothing is assigned."]
    with in_firm():
        assert dict(Account.objects.values_list("pk", "template_id")) == before


def test_a_firm_admin_imports_a_csv_file(e2e_firm, signed_in, in_firm, tmp_path, shot):
    bad = tmp_path / "securities-bad.csv"
    bad.write_text("symbol,name,asset_class,esg_score\nNEWCO,New Co,us_equity,high\n")
    good = tmp_path / "securities.csv"
    good.write_text("symbol,name,asset_class,esg_score\nNEWCO,New Co,us_equity,71\n")
    page = signed_in("admin")
    main_nav(page).get_by_role("link", name="Import").click()
    page.get_by_label(re.compile("Security master")).check()
    page.get_by_label("CSV file").set_input_files(str(bad))
    page.get_by_role("button", name="Import").click()
    expect(page.get_by_role("heading", name="The file was refused; nothing was written")).to_be_visible()
    expect(page.locator("table.data")).to_contain_text("esg_score")
    with in_firm():
        assert not Security.objects.filter(symbol="NEWCO").exists()
    page.get_by_label(re.compile("Security master")).check()
    page.get_by_label("CSV file").set_input_files(str(good))
    page.get_by_role("button", name="Import").click()
    expect(page.get_by_role("heading", name="Imported securities.csv")).to_be_visible()
    shot(page, "firm-admin-import-csv")
    with in_firm():
        assert Security.objects.get(symbol="NEWCO").esg_score == 71


def test_a_firm_admin_invites_a_user_who_chooses_a_password_and_signs_in(e2e_firm, signed_in, in_firm, firm_url,
                                                                          shot):
    page = signed_in("admin")
    main_nav(page).get_by_role("link", name="People & policy").click()
    page.get_by_label("E-mail address").fill("dana@e2e.example")
    page.get_by_label("First name", exact=True).fill("Dana")
    page.get_by_label("Last name", exact=True).fill("Analyst")
    page.get_by_role("checkbox", name=re.compile("^Compliance —")).check()
    shot(page, "firm-admin-invite-user", full_page=False)
    page.get_by_role("button", name="Send the invitation").click()
    expect(page.locator(".messages")).to_contain_text("Invited dana@e2e.example")
    expect(page.locator("table.data")).to_contain_text("dana@e2e.example")
    # A misspelt name is put right from the same page
    row = page.locator("tr", has_text="dana@e2e.example")
    row.get_by_text("Change name…").click()
    row.get_by_label("Last name of dana@e2e.example").fill("Analyst-Reyes")
    row.get_by_role("button", name="Save the name of dana@e2e.example").click()
    expect(page.locator(".messages")).to_contain_text("Name of dana@e2e.example saved.")
    expect(page.locator("table.data")).to_contain_text("Dana Analyst-Reyes")
    with in_firm():
        dana = get_user_model().objects.get(username="dana@e2e.example")
        assert list(dana.groups.values_list("name", flat=True)) == ["compliance"]
        link = set_password_path(dana)  # what the e-mail carries (the demo prints it on the console)

    page.context.clear_cookies()
    page.goto(firm_url(link))
    page.get_by_label("New password").fill("pale-ochre-kestrel-9")
    page.get_by_label("The same password again").fill("pale-ochre-kestrel-9")
    page.get_by_role("button", name="Set my password").click()
    expect(page.locator(".messages")).to_contain_text("Your password is set")
    page.get_by_label("User name (e-mail)").fill("dana@e2e.example")
    page.get_by_label("Password").fill("pale-ochre-kestrel-9")
    page.get_by_role("button", name="Sign in").click()
    expect(main_nav(page).get_by_role("link", name="Audit log")).to_be_visible()  # compliance reads the log


def test_a_firm_admin_edits_the_approval_policy_in_percent_and_dollars(e2e_firm, signed_in, in_firm, shot):
    page = signed_in("admin")
    main_nav(page).get_by_role("link", name="People & policy").click()
    page.get_by_role("link", name="Approval policy").click()
    expect(page.get_by_label("Turnover at most (% of account value)")).to_have_value("5")
    page.get_by_label("Estimated tax at most ($)").fill("$30,000")  # above compliance's threshold: refused
    page.get_by_role("button", name="Save the policy").click()
    expect(page.locator(".messages")).to_contain_text("the automatic approval's tax limit is above the tax at which")
    page.get_by_label("Estimated tax at most ($)").fill("1,500")
    page.get_by_label("Turnover at most (% of account value)").fill("7.5")
    shot(page, "firm-admin-approval-policy")
    page.get_by_role("button", name="Save the policy").click()
    expect(page.locator(".messages")).to_contain_text("Approval policy saved")
    with in_firm():
        policy = ApprovalPolicy.current()
        assert (float(policy.auto_max_estimated_tax), policy.auto_max_turnover, policy.auto_approve) == (
            1500.0, 0.075, False)


def test_a_firm_admin_creates_an_api_key_shown_once_and_it_works(e2e_firm, signed_in, firm_url, shot):
    page = signed_in("admin")
    page.get_by_role("navigation", name="Account").get_by_role("link", name="API keys").click()
    page.get_by_label("What it is for").fill("Custodian nightly upload")
    page.get_by_role("checkbox", name=re.compile("^read")).check()
    page.get_by_role("checkbox", name=re.compile("^import")).check()
    page.get_by_role("button", name="Create the key").click()
    token = page.get_by_test_id("token").inner_text().strip()
    assert re.fullmatch(r"rk_[0-9a-f]{8}_\S+", token)
    shot(page, "firm-admin-api-key", full_page=False)
    url = firm_url("/api/v1/accounts/")
    host = url.split("/")[2]  # e2e.localhost:<port>, which Python does not resolve as Chromium does
    request = urllib.request.Request(url.replace(host.split(":")[0], "127.0.0.1"),
                                     headers={"Authorization": f"Bearer {token}", "Host": host})
    with urllib.request.urlopen(request, timeout=20) as answer:
        assert answer.status == 200 and json.loads(answer.read())["count"] == 6
    page.reload()  # the page after the redirect: the token is not shown again
    expect(page.get_by_test_id("token")).to_have_count(0)  # never shown again
    asked = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))  # it asks first
    page.get_by_role("button", name=re.compile("Revoke rk_")).first.click()
    expect(page.locator(".messages")).to_contain_text("no longer works")
    assert asked and asked[0].startswith("Revoke the key “Custodian nightly upload” (rk_")


def test_a_firm_admin_sets_the_firm_wide_harvest_substitutes(e2e_firm, signed_in, in_firm, shot):
    from rebalancing.selectors import firm_harvest_substitutes

    page = signed_in("admin")
    main_nav(page).get_by_role("link", name="Templates").click()
    page.get_by_role("link", name="Harvest substitutes").click()
    pairs = page.get_by_label(re.compile("One pair a line"))
    pairs.fill("VTI = ITOT")  # one equivalence group: a wash sale, refused
    page.get_by_role("button", name="Save the substitutes").click()
    expect(page.locator(".messages")).to_contain_text("ITOT is substantially identical to VTI")
    pairs.fill("VTI = SCHB\nBND = AGG")
    page.get_by_role("button", name="Save the substitutes").click()
    expect(page.locator(".messages")).to_contain_text("Saved: 2 securities changed substitute")
    shot(page, "firm-admin-harvest-substitutes")
    with in_firm():
        assert firm_harvest_substitutes() == {"BND": "AGG", "VTI": "SCHB"}
    # The firm is shared by the package's browser tests: leave its list as it was (empty).
    page.get_by_label(re.compile("One pair a line")).fill("")
    page.get_by_role("button", name="Save the substitutes").click()
    expect(page.locator(".messages")).to_contain_text("Saved: 2 securities changed substitute")
    with in_firm():
        assert firm_harvest_substitutes() == {}
