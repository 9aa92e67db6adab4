"""The household pages: the list and its create form, one household's allocation across accounts,
its proposal approved with one decision, members, advisors and settings, each for the roles that
own them, and a colleague's household not found."""

import re
from decimal import Decimal

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from rebalancing.models import Account, Household, HouseholdProposal, Proposal
from rebalancing.selectors import RunScope
from rebalancing.services.runs import run_chunks, run_process_chunk, run_start
from tenants.audit.models import AuditEvent
from tests.rebalancing.book import AS_OF
from tests.rebalancing.household_book import make_unit_household
from tests.rebalancing.workflow import policy

pytestmark = pytest.mark.django_db


@pytest.fixture
def lees(firm_a, people):
    with tenant_context(firm_a):
        policy(auto_approve=False, max_price_age_days=3650, compliance_min_turnover=10, compliance_min_estimated_tax=10**9)
        made = make_unit_household(advisor=people["advisor"])
        run = run_start(scope=RunScope(household_id=made["household"].pk), as_of=AS_OF, label="test")
        for chunk in run_chunks(run):
            run_process_chunk(run_id=run.pk, account_ids=chunk)
        made["proposal"] = HouseholdProposal.objects.get(run=run)
        made["members"] = dict(made["proposal"].proposals.values_list("account__custodian_number", "pk"))
        yield made


def _url(household, tail=""):
    return f"/households/{household.pk}/{tail}"


def test_the_household_page_shows_what_sits_where_and_the_proposal(lees, as_user):
    page = as_user("advisor").get(_url(lees["household"]))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-chart="chart-where"' in html and "LEE-IRA" in html and "Traditional IRA" in html
    assert "Approve all accounts" in html
    for p in lees["proposal"].proposals.all():
        assert f"/proposals/{p.pk}/" in html  # each account's trades can still be opened
    assert "US equity" in html  # the location table names the asset classes


def test_a_colleague_does_not_find_the_household(lees, as_user):
    assert as_user("colleague").get(_url(lees["household"])).status_code == 404
    answer = as_user("colleague").post(_url(lees["household"], f"proposals/{lees['proposal'].pk}/decide/"),
                                       {"decision": "approve"})
    assert answer.status_code == 404
    assert "Lee family" not in as_user("colleague").get("/households/").content.decode()


def test_one_decision_on_the_page_approves_every_account(lees, as_user, firm_a):
    answer = as_user("advisor").post(_url(lees["household"], f"proposals/{lees['proposal'].pk}/decide/"),
                                     {"decision": "approve", "comment": "as discussed"}, follow=True)
    assert answer.status_code == 200 and "Your approval of household proposal #" in answer.content.decode()
    with tenant_context(firm_a):
        assert set(Proposal.objects.filter(household_proposal=lees["proposal"]).values_list("status", flat=True)) <= {
            "approved"}
        assert AuditEvent.objects.filter(action="household_proposal.approve").count() == 1


def test_compliances_household_approval_says_whose_approval_each_account_still_waits_for(lees, as_user, firm_a):
    with tenant_context(firm_a):
        Proposal.objects.filter(household_proposal=lees["proposal"]).update(requires_compliance=True)
        waiting = list(Proposal.objects.filter(household_proposal=lees["proposal"], status="pending_approval")
                       .values_list("account__custodian_number", "pk"))
    compliance = as_user("compliance")
    answer = compliance.post(_url(lees["household"], f"proposals/{lees['proposal'].pk}/decide/"),
                             {"decision": "approve", "comment": "checked"})
    # back at the top of the page, where the message is (it landed at #proposal, far below it)
    assert answer.status_code == 302 and answer["Location"] == _url(lees["household"])
    page = compliance.get(answer["Location"]).content.decode()
    # said once for the accounts waiting for the same approval, how many of how many
    accounts = ", ".join(f"{number} #{pk}" for number, pk in sorted(waiting, key=lambda w: w[1]))
    assert (f"{len(waiting)} of {len(waiting)} accounts still wait for their advisor&#x27;s approval (Advisor): "
            f"{accounts}.") in page


def test_a_firm_admin_creates_a_household_moves_an_account_in_and_assigns_advisors(lees, as_user, firm_a, people):
    admin = as_user("admin")
    created = admin.post("/households/", {"name": "Diaz family", "external_id": "HH-DIAZ", "managed_as": "accounts"})
    assert created.status_code == 302
    with tenant_context(firm_a):
        diaz = Household.objects.get(external_id="HH-DIAZ")
    assert admin.post("/households/", {"name": "Twice", "external_id": "HH-DIAZ"}, follow=True).content.decode().count(
        "exists already") == 1
    moved = admin.post(_url(diaz, "accounts/"), {"add": lees["roth"].custodian_number})
    assert "No account NOPE-1" in admin.post(_url(diaz, "accounts/"), {"add": "NOPE-1"}, follow=True).content.decode()
    assert moved.status_code == 302
    given = admin.post(_url(diaz, "advisors/"), {"advisors": [people["colleague"].pk]})
    assert given.status_code == 302
    with tenant_context(firm_a):
        assert Account.objects.get(pk=lees["roth"].pk).household_id == diaz.pk
        assert [u.pk for u in Household.objects.get(pk=diaz.pk).advisors] == [people["colleague"].pk]
        assert AuditEvent.objects.filter(action="household.members").exists()
    assert as_user("colleague").get(_url(diaz)).status_code == 200
    # An advisor may not change who advises a household, nor move accounts.
    assert as_user("advisor").post(_url(lees["household"], "advisors/"), {"advisors": []}).status_code == 403
    assert as_user("advisor").post(_url(lees["household"], "accounts/"), {"remove": lees["ira"].pk}).status_code == 403


def test_settings_are_typed_in_dollars_and_statuses_and_refused_outside_the_templates_limits(lees, as_user, firm_a):
    advisor = as_user("advisor")
    saved = advisor.post(_url(lees["household"], "settings/"), {
        "tax_budget": "$2,500", "location_class": ["bonds"], "location:bonds": ["roth", "traditional", ""],
        f"classes_shown:{lees['roth'].pk}": "1", f"classes:{lees['roth'].pk}": ["bonds"]}, follow=True)
    assert "Household settings saved" in saved.content.decode()
    with tenant_context(firm_a):
        household = Household.objects.get(pk=lees["household"].pk)
        assert household.household_overrides == {"tax_budget": 2500.0, "location": {"bonds": ["roth", "traditional"]}}
        assert Account.objects.get(pk=lees["roth"].pk).asset_classes == ["bonds"]
    refused = advisor.post(_url(lees["household"], "settings/"), {"tax_budget": "90000"}, follow=True)
    assert "household.tax_budget = $90,000 is above the template" in refused.content.decode()
    bad = advisor.post(_url(lees["household"], "settings/"), {"tax_budget": "lots"}, follow=True)
    assert bad.status_code == 200  # on the household page, not an error page
    assert "The tax budget must be a number, not “lots”" in bad.content.decode()
    with tenant_context(firm_a):
        assert Household.objects.get(pk=lees["household"].pk).household_overrides["tax_budget"] == 2500.0


def test_settings_saved_on_a_household_managed_account_by_account_say_they_wait_until_it_is_one(lees, as_user,
                                                                                                  firm_a):
    with tenant_context(firm_a):
        Household.objects.filter(pk=lees["household"].pk).update(managed_as=Household.ManagedAs.ACCOUNTS)
    saved = as_user("advisor").post(_url(lees["household"], "settings/"), {"tax_budget": "2500"}, follow=True)
    page = saved.content.decode()
    assert "They take effect once the household is managed as one" in page
    assert "the next run uses them" not in page
    assert 'data-testid="budget-unused"' in page
    with tenant_context(firm_a):
        Household.objects.filter(pk=lees["household"].pk).update(managed_as=Household.ManagedAs.HOUSEHOLD)
    assert 'data-testid="budget-unused"' not in as_user("advisor").get(_url(lees["household"])).content.decode()


def test_the_household_list_is_for_everyone_with_the_book_and_the_create_form_for_those_who_may(lees, as_user):
    assert "New household" in as_user("admin").get("/households/").content.decode()
    listed = as_user("advisor").get("/households/").content.decode()
    assert "Lee family" in listed and "New household" not in listed
    assert as_user("advisor").post("/households/", {"name": "X", "external_id": "X"}).status_code == 403


def test_a_withdrawal_entered_on_the_page_becomes_the_household_proposal(lees, as_user, firm_a):
    advisor = as_user("advisor")
    answer = advisor.post(_url(lees["household"], "cash-flows/"), {"kind": "withdrawal", "amount": "$3,000",
                                                                   "account": "", "reference": "W-PAGE"}, follow=True)
    html = answer.content.decode()
    assert "Withdrawal of $3,000.00 planned: estimated tax" in html and "Funds a withdrawal of $3,000.00" in html
    assert 'id="household-resolve-form"' not in html  # a withdrawal's plan is decided, not re-solved
    with tenant_context(firm_a):
        together = HouseholdProposal.objects.filter(household=lees["household"]).latest("created_at")
        assert together.result["cash_flow"] == {"kind": "withdrawal", "amount": 3000.0}
        sale = together.proposals.first()
    opened = advisor.get(f"/proposals/{sale.pk}/")  # each account's sales open like any proposal
    assert opened.status_code == 200 and "for a withdrawal of $3,000.00" in opened.content.decode()
    refused = advisor.post(_url(lees["household"], "cash-flows/"), {"kind": "rmd", "amount": "100",
                                                                    "account": lees["roth"].pk}, follow=True)
    assert "comes from a traditional IRA" in refused.content.decode()
    not_a_number = advisor.post(_url(lees["household"], "cash-flows/"), {"kind": "withdrawal", "amount": "a lot"},
                                follow=True)  # said above the form, which keeps it (test_a_refused_cash_flow_...)
    assert not_a_number.status_code == 200 and "The amount must be a number, not “a lot”" in not_a_number.content.decode()


def test_a_withdrawals_proposal_measures_no_drift_and_leaves_the_last_rebalances_drift_in_the_lists(
        lees, as_user, firm_a):
    # A withdrawal's proposals recorded drift 0% -> 0%: the accounts dropped out of "drift at least"
    # filters and runs limited by drift, and the pages said 0.0%.
    with tenant_context(firm_a):
        Proposal.objects.filter(run=lees["proposal"].run).update(drift_before=0.1)
        Proposal.objects.filter(run=lees["proposal"].run, account=lees["joint"]).update(drift_before=0.25)
    pm = as_user("pm")
    pm.post(_url(lees["household"], "cash-flows/"), {"kind": "withdrawal", "amount": "20000"})
    with tenant_context(firm_a):
        sale = Proposal.objects.filter(account=lees["joint"], run__kind="cash_flow").get()
        from rebalancing.selectors import RunScope, accounts_for_scope
        in_scope = set(accounts_for_scope(RunScope(min_drift=0.2, replace_approved=True)).values_list("pk", flat=True))
    assert lees["joint"].pk in in_scope
    listed = re.sub(r"\s+", " ", pm.get("/accounts/", {"min_drift": "20"}).content.decode())
    assert "LEE-JT" in listed and "25.0%" in listed
    page = pm.get(f"/proposals/{sale.pk}/").content.decode()
    assert "not measured: this proposal raises the cash a withdrawal or RMD takes" in page
    household_page = pm.get(_url(lees["household"])).content.decode()
    assert "not measured: a withdrawal's proposal raises cash" in household_page
    assert "drift not measured (a withdrawal's proposal)" in household_page and "drift 0.0% → 0.0%" not in household_page


def test_a_cash_flow_file_is_entered_whole_or_refused_naming_the_row(lees, as_user, firm_a):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from rebalancing.models import CashFlow

    def upload(text):
        return as_user("advisor").post(_url(lees["household"], "cash-flows/upload/"), {
            "file": SimpleUploadedFile("flows.csv", text.encode(), content_type="text/csv")}, follow=True)

    bad = upload("household_id,kind,amount,account_number,reference\n"
                 "HH-LEE,deposit,500,LEE-ROTH,D-1\nHH-LEE,rmd,100,LEE-ROTH,R-1\nHH-LEE,gift,5,,G-1\n")
    assert "row 4, kind: &#x27;gift&#x27; is not a kind of cash flow" in bad.content.decode()
    unfundable = upload("household_id,kind,amount,account_number,reference\n"
                        "HH-LEE,deposit,500,LEE-ROTH,D-1\nHH-LEE,rmd,100,LEE-ROTH,R-1\n")
    assert "row 3, account_number: A required minimum distribution comes from a traditional IRA" in unfundable.content.decode()
    with tenant_context(firm_a):
        assert not CashFlow.objects.exists()  # the deposit of row 2 is not half-written
    good = upload("household_id,kind,amount,account_number,reference\nHH-LEE,deposit,500,LEE-ROTH,D-1\n")
    assert "1 entered, 0 entered before" in good.content.decode()
    again = upload("household_id,kind,amount,account_number,reference\nHH-LEE,deposit,500,LEE-ROTH,D-1\n")
    assert "0 entered, 1 entered before" in again.content.decode()


def test_a_firm_admin_sets_a_templates_household_settings_and_households_follow_them(lees, as_user, firm_a):
    from rebalancing.household_parameters import household_settings_effective

    template = lees["template"]
    page = as_user("admin").get(f"/templates/{template.pk}/").content.decode()
    assert "Households managed as one" in page and 'name="location:bonds"' in page
    saved = as_user("admin").post(f"/templates/{template.pk}/household/", {
        "tax_budget": "12,000", "location_class": ["bonds", "us_equity"], "location:bonds": "roth",
        "location:us_equity": ""}, follow=True)
    assert "Household settings of" in saved.content.decode()
    assert 'id="th-budget" name="tax_budget" inputmode="decimal" value="12000"' in saved.content.decode()  # not 12000.0
    with tenant_context(firm_a):
        template.refresh_from_db()
        assert template.household_parameters == {"tax_budget": 12000.0,
                                                 "location": {"bonds": ["roth", "traditional", "taxable"]}}
        effective = household_settings_effective(Household.objects.get(pk=lees["household"].pk))
        assert effective.sources == {"tax_budget": f"template:{template.code}", "location": f"template:{template.code}",
                                     "inside_bands": "default"}
        assert AuditEvent.objects.filter(action="template.change", object_id=str(template.pk)).exists()
    assert as_user("advisor").post(f"/templates/{template.pk}/household/", {"tax_budget": "1"}).status_code == 403


def test_how_the_household_is_rebalanced_inside_its_bands_is_chosen_on_its_page_with_its_source(lees, as_user, firm_a):
    from rebalancing.household_parameters import household_settings_effective

    advisor, household, template = as_user("advisor"), lees["household"], lees["template"]
    page = advisor.get(_url(household)).content.decode()
    assert 'name="inside_bands"' in page and "follow the template (keep on model with tax-free trades)" in page
    assert "Only direct cash flows" in page and "0.38%/yr" in page  # the trade-off, in words
    # The template does not let its households choose: refused, saying so.
    refused = advisor.post(_url(household, "settings/"), {"inside_bands": "cash_flows"}, follow=True)
    assert "household.inside_bands may not be overridden under template" in refused.content.decode()
    with tenant_context(firm_a):
        template.overridable = {**template.overridable, "household.inside_bands": {}}
        template.save()
    saved = advisor.post(_url(household, "settings/"), {"tax_budget": "", "inside_bands": "cash_flows"}, follow=True)
    html = saved.content.decode()
    assert "Household settings saved" in html
    assert '<option value="cash_flows" selected>Only direct cash flows</option>' in html
    with tenant_context(firm_a):
        assert Household.objects.get(pk=household.pk).household_overrides == {"inside_bands": "cash_flows"}
        assert AuditEvent.objects.filter(action="household.settings", object_id=str(household.pk)).exists()
    # A value the engine does not know is refused with what it may be.
    bad = advisor.post(_url(household, "settings/"), {"inside_bands": "sometimes"}, follow=True).content.decode()
    assert "inside_bands (how the household is rebalanced inside its drift bands) must be" in bad
    assert "&#x27;cash_flows&#x27; (only direct cash flows), not &#x27;sometimes&#x27;" in bad
    # Empty follows the template again; the badge says where the value comes from.
    with tenant_context(firm_a):
        template.household_parameters = {"inside_bands": "cash_flows"}
        template.save()
    advisor.post(_url(household, "settings/"), {"inside_bands": ""})
    with tenant_context(firm_a):
        effective = household_settings_effective(Household.objects.get(pk=household.pk))
        assert (effective.values["inside_bands"], effective.sources["inside_bands"]) == (
            "cash_flows", f"template:{template.code}")
    page = advisor.get(_url(household)).content.decode()
    assert "follow the template (only direct cash flows)" in page
    assert f'Inside the drift bands <span class="badge template">template {template.code}</span>' in page
    # Who may not change settings reads the value and its source.
    viewer = as_user("compliance").get(_url(household)).content.decode()
    assert 'name="inside_bands"' not in viewer
    assert ('inside the drift bands: only direct cash flows <span class="badge template">'
            f"template {template.code}</span>") in viewer


def test_a_template_chooses_how_its_households_are_rebalanced_inside_their_bands(lees, as_user, firm_a):
    from rebalancing.household_parameters import household_settings_effective

    template = lees["template"]
    page = as_user("admin").get(f"/templates/{template.pk}/").content.decode()
    assert 'name="inside_bands"' in page and "engine default (keep on model with tax-free trades)" in page
    saved = as_user("admin").post(f"/templates/{template.pk}/household/", {
        "tax_budget": "", "inside_bands": "cash_flows"}, follow=True).content.decode()
    assert "Household settings of" in saved and '<option value="cash_flows" selected>' in saved
    with tenant_context(firm_a):
        template.refresh_from_db()
        assert template.household_parameters == {"inside_bands": "cash_flows"}
        effective = household_settings_effective(Household.objects.get(pk=lees["household"].pk))
        assert effective.sources["inside_bands"] == f"template:{template.code}"
        event = AuditEvent.objects.filter(action="template.change", object_id=str(template.pk)).latest("pk")
        assert event.after["household_parameters"] == {"inside_bands": "cash_flows"}
    refused = as_user("admin").post(f"/templates/{template.pk}/household/", {"inside_bands": "never"},
                                    follow=True).content.decode()
    assert "Inside_bands (how the household is rebalanced inside its drift bands) must be" in refused
    with tenant_context(firm_a):
        template.refresh_from_db()
        assert template.household_parameters == {"inside_bands": "cash_flows"}  # unchanged


def test_an_accounts_proposal_links_to_its_household_proposal(lees, as_user):
    proposal = lees["proposal"].proposals.first()
    page = as_user("advisor").get(f"/proposals/{proposal.pk}/").content.decode()
    assert f"/households/{lees['household'].pk}/#proposal" in page


def test_the_household_what_if_shows_each_accounts_trades_and_stores_nothing(lees, as_user, firm_a):
    with tenant_context(firm_a):
        before = Proposal.objects.count()
    fragment = as_user("advisor").post(_url(lees["household"], "preview/")).content.decode()
    assert "What a rebalance of the household would do now" in fragment and "LEE-IRA" in fragment
    assert "BND" in fragment  # the bonds go somewhere
    with tenant_context(firm_a):
        assert Proposal.objects.count() == before
    assert as_user("colleague").post(_url(lees["household"], "preview/")).status_code == 404


@pytest.mark.parametrize("amount, reference, problem", [
    ("0.001", "", "more than 2 decimal places"),
    ("1e300", "", "more than any client account holds: at most $100,000,000,000 in one cash flow"),
    ("9999999999999999.99", "", "more than any client account holds: at most $100,000,000,000 in one cash flow"),
    ("10", "R" * 500, "at most 64 characters"),
])
def test_a_deposit_the_book_cannot_hold_is_refused_on_the_page_not_a_server_error(lees, as_user, firm_a, amount,
                                                                                  reference, problem):
    from rebalancing.models import CashFlow

    answer = as_user("advisor").post(_url(lees["household"], "cash-flows/"), {
        "kind": "deposit", "amount": amount, "account": lees["roth"].pk, "reference": reference}, follow=True)
    assert answer.status_code == 200 and problem in answer.content.decode()
    # back at the top of the page, where the message is, not at the form far below it
    assert answer.redirect_chain == [(_url(lees["household"]), 302)]
    with tenant_context(firm_a):
        assert not CashFlow.objects.exists()
        assert Account.objects.get(pk=lees["roth"].pk).cash == lees["roth"].cash


def test_a_cash_flow_file_repeating_a_reference_is_refused_naming_both_rows(lees, as_user, firm_a):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from rebalancing.models import CashFlow

    # given a file whose fourth line reuses the second's reference with another amount
    text = ("household_id,kind,amount,account_number,reference\n"
            "HH-LEE,deposit,500,LEE-ROTH,D-1\nHH-LEE,deposit,20,LEE-ROTH,\nHH-LEE,deposit,5,LEE-ROTH,D-1\n"
            "HH-LEE,deposit,20,LEE-ROTH,\n")
    # when it is uploaded on the household page
    answer = as_user("advisor").post(_url(lees["household"], "cash-flows/upload/"), {
        "file": SimpleUploadedFile("flows.csv", text.encode(), content_type="text/csv")}, follow=True)
    # then the repeat is named (rows without a reference may repeat) and nothing is entered
    html = answer.content.decode()
    assert "row 4, reference: repeats the household and reference of row 2" in html
    assert answer.redirect_chain == [(_url(lees["household"]), 302)]
    assert "row 5" not in html
    with tenant_context(firm_a):
        assert not CashFlow.objects.exists()
        assert Account.objects.get(pk=lees["roth"].pk).cash == lees["roth"].cash


@pytest.mark.parametrize("name, external_id, field", [("N" * 201, "HH-LONG", "name"), ("Long id", "X" * 65, "external_id")])
def test_a_household_name_or_id_too_long_for_its_column_is_named_not_a_server_error(lees, as_user, firm_a, name,
                                                                                    external_id, field):
    answer = as_user("admin").post("/households/", {"name": name, "external_id": external_id,
                                                    "managed_as": "accounts"}, follow=True)
    assert answer.status_code == 200
    assert f"The household was not saved: {field}: Ensure this value has at most" in answer.content.decode()
    with tenant_context(firm_a):
        assert list(Household.objects.values_list("external_id", flat=True)) == ["HH-LEE"]


@pytest.mark.parametrize("budget, words", [
    ("5e14", "household.tax_budget = $500 trillion is above the template&#x27;s maximum $50,000"),
    ("1e300", "the tax budget must be at most $1 quadrillion, not $1 × 10^300"),  # the engine's money cap
])
def test_an_absurd_tax_budget_is_refused_in_words_not_a_300_digit_amount(lees, as_user, firm_a, budget, words):
    with tenant_context(firm_a):
        before = Household.objects.get(pk=lees["household"].pk).household_overrides
    answer = as_user("admin").post(_url(lees["household"], "settings/"), {"tax_budget": budget}, follow=True)
    page = answer.content.decode()
    assert answer.status_code == 200
    assert words in page
    assert "000,000,000,000,000" not in page
    with tenant_context(firm_a):
        assert Household.objects.get(pk=lees["household"].pk).household_overrides == before


def _members(firm, together) -> dict[str, Proposal]:
    with tenant_context(firm):
        return {p.account.custodian_number: p for p in together.proposals.select_related("account")}


def test_an_advisor_edits_the_household_proposal_on_its_page_and_the_household_is_solved_again(lees, as_user, firm_a):
    old = lees["proposal"]
    members = _members(firm_a, old)
    dropped = members["LEE-IRA"].result["trades"][0]
    page = as_user("advisor").get(_url(lees["household"])).content.decode()
    assert 'id="household-resolve-form"' in page
    assert f'value="LEE-IRA:{dropped["symbol"]}"' in page  # each account's trades can be dropped

    answer = as_user("advisor").post(_url(lees["household"], f"proposals/{old.pk}/resolve/"), {
        "drop": [f"LEE-IRA:{dropped['symbol']}"],
        "ins_account": ["LEE-JT", ""], "ins_action": ["do_not_sell", ""], "ins_symbol": ["vti", ""],
        "ins_buy": ["", ""], "ins_amount": ["", ""]}, follow=True)

    html = answer.content.decode()
    with tenant_context(firm_a):
        new = HouseholdProposal.objects.get(revised_from=old)
        assert set(Proposal.objects.filter(household_proposal=old).values_list("status", flat=True)) == {"superseded"}
        assert set(Proposal.objects.filter(household_proposal=new).values_list("status", flat=True)) == {
            "pending_approval"}
    assert f"Solved the household again as household proposal #{new.pk}" in html
    assert f"LEE-IRA: dropped the {dropped['side']} of {dropped['symbol']}; LEE-JT: do not sell VTI" in html
    assert 'data-testid="household-revised-from"' in html and f"Revised from household proposal #{old.pk}" in html
    assert dropped["symbol"] not in {t["symbol"] for t in _members(firm_a, new)["LEE-IRA"].result["trades"]}
    # The revised household is decided on the same page, with one decision.
    approved = as_user("advisor").post(_url(lees["household"], f"proposals/{new.pk}/decide/"),
                                       {"decision": "approve"}, follow=True)
    assert "Your approval of household proposal #" in approved.content.decode()


def test_more_instruction_rows_than_the_page_first_shows_are_all_applied(lees, as_user, firm_a):
    # Given the page's form with its "add another" button (the rows beyond the first two come from it)
    old = lees["proposal"]
    page = as_user("advisor").get(_url(lees["household"])).content.decode()
    assert 'data-add-row="household-instructions" data-max="20" hidden' in page
    assert page.count('name="ins_action"') == 2
    # When three rows are sent, the middle one left empty
    answer = as_user("advisor").post(_url(lees["household"], f"proposals/{old.pk}/resolve/"), {
        "ins_account": ["LEE-JT", "", "LEE-IRA"], "ins_action": ["do_not_sell", "", "do_not_buy"],
        "ins_symbol": ["VTI", "", "BND"], "ins_buy": ["", "", ""], "ins_amount": ["", "", ""]}, follow=True)
    # Then both instructions are applied, each to its account
    html = answer.content.decode()
    assert "LEE-IRA: do not buy BND" in html and "LEE-JT: do not sell VTI" in html
    with tenant_context(firm_a):
        new = HouseholdProposal.objects.get(revised_from=old)
    assert "BND" not in {t["symbol"] for t in _members(firm_a, new)["LEE-IRA"].result["trades"] if t["side"] == "buy"}


@pytest.mark.parametrize("form, words", [
    ({"drop": ["LEE-XX:VTI"]}, "is not a trade of this household proposal"),
    # rows numbered as the page shows them, empty ones included
    ({"ins_account": ["", "LEE-JT", ""], "ins_action": ["", "hold", "hold"], "ins_symbol": ["", "VTI", "BND"],
      "ins_buy": ["", "", ""], "ins_amount": ["", "", ""]}, "Instruction 3: choose the account it is for."),
    ({"ins_account": ["LEE-JT"], "ins_action": ["", ""], "ins_symbol": ["", ""], "ins_buy": ["", ""],
      "ins_amount": ["", ""]}, "The instruction rows arrived incomplete; reload the page and enter them again."),
    ({"ins_account": ["LEE-JT"] * 21, "ins_action": ["hold"] * 21, "ins_symbol": ["VTI"] * 21, "ins_buy": [""] * 21,
      "ins_amount": [""] * 21}, "At most 20 instructions at a time; 21 were sent."),
    ({"ins_account": ["LEE-JT"], "ins_action": [""], "ins_symbol": [""], "ins_buy": [""], "ins_amount": [""]},
     "Instruction 1: choose what to do."),
    ({"ins_account": [""], "ins_action": ["hold"], "ins_symbol": ["VTI"], "ins_buy": [""], "ins_amount": [""]},
     "Instruction 1: choose the account it is for."),
    ({"ins_account": ["LEE-JT"], "ins_action": ["raise_cash"], "ins_symbol": [""], "ins_buy": [""],
      "ins_amount": ["lots"]}, "The amount of instruction 1 must be a number, not “lots”."),
    ({"ins_account": ["LEE-JT"], "ins_action": ["sell"], "ins_symbol": ["NOPE"], "ins_buy": [""],
      "ins_amount": [""]}, "LEE-JT: Instruction 1: NOPE is not in the security master."),
    ({}, "Drop a trade or add an instruction in one of the accounts"),
])
def test_a_household_edit_the_page_refuses_is_named_at_the_top_and_changes_nothing(lees, as_user, firm_a, form, words):
    old = lees["proposal"]
    answer = as_user("advisor").post(_url(lees["household"], f"proposals/{old.pk}/resolve/"), form, follow=True)
    assert answer.status_code == 200 and words in answer.content.decode()
    with tenant_context(firm_a):
        assert HouseholdProposal.objects.count() == 1
        assert set(Proposal.objects.filter(household_proposal=old).values_list("status", flat=True)) == {
            "pending_approval"}


def test_who_may_not_decide_is_offered_no_edit_and_refused(lees, as_user):
    old = lees["proposal"]
    assert as_user("colleague").post(_url(lees["household"], f"proposals/{old.pk}/resolve/"),
                                     {"drop": ["LEE-IRA:BND"]}).status_code == 404
    as_user("advisor").post(_url(lees["household"], f"proposals/{old.pk}/decide/"), {"decision": "approve"})
    assert 'id="household-resolve-form"' not in as_user("advisor").get(_url(lees["household"])).content.decode()


def test_compliance_decides_a_household_proposal_but_is_offered_no_edit_and_refused_one(lees, as_user, firm_a):
    old = lees["proposal"]
    with tenant_context(firm_a):
        Proposal.objects.filter(household_proposal=old).update(requires_compliance=True)
    page = as_user("compliance").get(_url(lees["household"])).content.decode()
    assert 'id="household-resolve-form"' not in page and "Approve" in page
    refused = as_user("compliance").post(_url(lees["household"], f"proposals/{old.pk}/resolve/"),
                                         {"drop": ["LEE-IRA:BND"]})
    assert refused.status_code == 403
    assert 'id="household-resolve-form"' in as_user("advisor").get(_url(lees["household"])).content.decode()


def test_an_advisor_keeps_an_iras_rmd_facts_and_plans_what_is_left_of_its_rmd_on_the_page(lees, as_user, firm_a):
    from datetime import date

    from django.utils import timezone

    from rebalancing.engine.rmd import UNIFORM_LIFETIME_TABLE
    from rebalancing.models import CashFlow

    advisor, year = as_user("advisor"), timezone.localdate().year
    page = advisor.get(_url(lees["household"])).content.decode()
    assert f"Required minimum distributions, {year}" in page
    assert "Enter the date of birth of LEE-IRA&#x27;s owner" in page

    bad = advisor.post(_url(lees["household"], "rmd-facts/"), {
        "account": lees["ira"].pk, "owner_birth_date": "2199-01-01", "year_end_value": "100000",
        "year_end_year": str(year - 1)}, follow=True).content.decode()
    assert "The owner&#x27;s date of birth cannot be 2199-01-01: it must be from 1880 on and not in the future." in bad
    unreadable = advisor.post(_url(lees["household"], "rmd-facts/"), {
        "account": lees["ira"].pk, "owner_birth_date": "1950-06-01", "year_end_value": "lots",
        "year_end_year": str(year - 1)}, follow=True)  # on the household page, not an error page
    assert unreadable.status_code == 200
    assert "The 31 December value must be a number, not “lots”" in unreadable.content.decode()
    huge = advisor.post(_url(lees["household"], "rmd-facts/"), {
        "account": lees["ira"].pk, "owner_birth_date": "1950-06-01", "year_end_value": "1e30",
        "year_end_year": str(year - 1)}, follow=True)
    assert huge.status_code == 200 and "The 31 December value is dollars and cents below" in huge.content.decode()
    saved = advisor.post(_url(lees["household"], "rmd-facts/"), {
        "account": lees["ira"].pk, "owner_birth_date": "1950-06-01", "spouse_birth_date": "",
        "year_end_value": "$100,000", "year_end_year": str(year - 1)}, follow=True).content.decode()
    period = UNIFORM_LIFETIME_TABLE[year - 1950]
    due = f"{(100000 / period).quantize(Decimal('0.01'), rounding='ROUND_CEILING'):,}"
    assert "RMD facts of LEE-IRA saved" in saved and f"Plan the ${due} left" in saved and f"/ {period}" in saved

    planned = advisor.post(_url(lees["household"], "cash-flows/"), {"kind": "rmd", "account": lees["ira"].pk},
                           follow=True).content.decode()
    assert f"Required minimum distribution of ${due} planned" in planned
    assert "Plan the $" not in planned  # nothing left to plan: it is taken or planned
    with tenant_context(firm_a):
        flow = CashFlow.objects.get(household=lees["household"])
        assert flow.amount == Decimal(due.replace(",", "")) and flow.account_id == lees["ira"].pk
        ira = type(lees["ira"]).objects.get(pk=lees["ira"].pk)
        assert (ira.owner_birth_date, ira.year_end_values) == (date(1950, 6, 1), {str(year - 1): "100000.00"})
    assert f'href="/runs/{flow.run_id}/">Pending approval</a>' in planned  # where its sales stand
    # The IRA's own page says the same, and where to plan it.
    ira_page = advisor.get(f"/accounts/{lees['ira'].pk}/").content.decode()
    assert f"Required minimum distribution, {year}:</strong> ${due}" in ira_page and "$0.00 left" in ira_page
    assert "Required minimum distribution" not in advisor.get(f"/accounts/{lees['roth'].pk}/").content.decode()
    # A second one is planned beside it, on the book as the first will leave it; the first still waits.
    second = advisor.post(_url(lees["household"], "cash-flows/"), {"kind": "withdrawal", "amount": "10"},
                          follow=True).content.decode()
    assert "Withdrawal of $10.00 planned" in second
    with tenant_context(firm_a):
        assert CashFlow.objects.filter(household=lees["household"]).count() == 2
        assert set(Proposal.objects.filter(run=flow.run).values_list("status", flat=True)) == {"pending_approval"}


def test_one_owners_iras_are_named_on_the_page_and_their_total_planned_from_the_one_chosen(lees, as_user, firm_a):
    from django.utils import timezone

    from rebalancing.engine.rmd import UNIFORM_LIFETIME_TABLE
    from rebalancing.models import Account, CashFlow, Proposal

    from ..rebalancing.book import make_account

    advisor, year = as_user("advisor"), timezone.localdate().year
    with tenant_context(firm_a):
        Proposal.objects.filter(household_proposal=lees["proposal"]).update(status=Proposal.Status.REJECTED)
        second = make_account("LEE-IRA2", model=None, household=lees["household"], cash="20000", holdings=[])
        Account.objects.filter(pk=second.pk).update(tax_status=Account.TaxStatus.TRADITIONAL)
    for account, value in ((lees["ira"], "100000"), (second, "50000")):
        advisor.post(_url(lees["household"], "rmd-facts/"), {
            "account": account.pk, "owner_name": "Kim Lee", "owner_birth_date": "1950-06-01",
            "year_end_value": value, "year_end_year": str(year - 1)})
    page = advisor.get(_url(lees["household"])).content.decode()
    with tenant_context(firm_a):
        lines = {a.custodian_number: a for a in Account.objects.filter(owner_name="Kim Lee")}
    assert set(lines) == {"LEE-IRA", "LEE-IRA2"}
    period = UNIFORM_LIFETIME_TABLE[year - 1950]  # 23.7 in 2026: 4,219.41 + 2,109.71
    total = f"${sum((v / period).quantize(Decimal('0.01'), rounding='ROUND_CEILING') for v in (100000, 50000)):,}"
    assert f"One owner's IRAs (LEE-IRA, LEE-IRA2): their RMDs total {total}" in page
    assert page.count('value="Kim Lee"') == 2  # each IRA's facts form keeps the owner's name
    assert f"Plan the {total} left from LEE-IRA2" in page and f"Plan the {total} left from LEE-IRA<" in page

    planned = advisor.post(_url(lees["household"], "cash-flows/"), {
        "kind": "rmd", "account": second.pk, "amount": total.replace("$", "").replace(",", "")}, follow=True)
    assert planned.status_code == 200 and "Plan the $" not in planned.content.decode()
    with tenant_context(firm_a):
        flow = CashFlow.objects.get(household=lees["household"])
        assert flow.account_id == second.pk and list(flow.plan["distributions"]) == ["LEE-IRA2"]


def test_a_distribution_taken_at_the_custodian_is_recorded_on_the_page_and_lowers_what_is_left(lees, as_user, firm_a):
    from django.utils import timezone

    from rebalancing.models import CashFlow, Proposal

    advisor, today = as_user("advisor"), timezone.localdate()
    advisor.post(_url(lees["household"], "rmd-facts/"), {
        "account": lees["ira"].pk, "owner_name": "Kim Lee", "owner_birth_date": "1950-06-01",
        "year_end_value": "100000", "year_end_year": str(today.year - 1)})
    page = advisor.get(_url(lees["household"])).content.decode()
    assert 'aria-label="Record a distribution already taken"' in page
    with tenant_context(firm_a):
        proposals_before = Proposal.objects.count()
    day = today.replace(day=1)
    done = advisor.post(_url(lees["household"], "cash-flows/"), {
        "taken_outside": "1", "kind": "rmd", "account": lees["ira"].pk, "as_of": day.isoformat(), "amount": "1,000"},
        follow=True).content.decode()
    assert f"taken from LEE-IRA on {day:%d %B %Y} recorded: its RMD counts it. Nothing is sold." in done
    assert "taken at the custodian (recorded)" in done
    with tenant_context(firm_a):
        flow = CashFlow.objects.get(household=lees["household"])
        assert (flow.taken_outside, flow.as_of, flow.run_id) == (True, day, None)
        assert Proposal.objects.count() == proposals_before
    refused = advisor.post(_url(lees["household"], "cash-flows/"), {
        "taken_outside": "1", "kind": "rmd", "account": lees["roth"].pk, "as_of": day.isoformat(), "amount": "5"},
        follow=True).content.decode()
    assert "recorded for the traditional IRA it came from" in refused


def test_the_books_rmds_owner_by_owner_what_cannot_be_computed_and_a_csv(lees, as_user, firm_a):
    import csv
    import io

    from django.utils import timezone

    from rebalancing.engine.rmd import UNIFORM_LIFETIME_TABLE
    from rebalancing.models import Account

    from ..rebalancing.book import make_account

    advisor, year = as_user("advisor"), timezone.localdate().year
    with tenant_context(firm_a):
        second = make_account("LEE-IRA2", model=None, household=lees["household"], cash="20000", holdings=[])
        Account.objects.filter(pk=second.pk).update(tax_status=Account.TaxStatus.TRADITIONAL)
    assert 'href="/households/rmds/"' in advisor.get("/households/").content.decode()
    missing = advisor.get("/households/rmds/?show=missing").content.decode()
    assert "Enter the date of birth of LEE-IRA&#x27;s owner" in missing and "LEE-IRA2" in missing
    for account, value in ((lees["ira"], "100000"), (second, "50000")):
        advisor.post(_url(lees["household"], "rmd-facts/"), {
            "account": account.pk, "owner_name": "Kim Lee", "owner_birth_date": "1950-06-01",
            "year_end_value": value, "year_end_year": str(year - 1)})
    period = UNIFORM_LIFETIME_TABLE[year - 1950]
    total = sum((Decimal(v) / period).quantize(Decimal("0.01"), rounding="ROUND_CEILING") for v in (100000, 50000))
    owing = advisor.get("/households/rmds/").content.decode()
    assert owing.count("Kim Lee") == 1 and f"${total:,}" in owing  # one row for the owner's two IRAs
    assert "Owing (1)" in owing and "Cannot be computed (0)" in owing
    download = advisor.get("/households/rmds/?show=owing&download=csv")
    rows = list(csv.DictReader(io.StringIO(download.content.decode())))
    assert [(r["owner"], r["accounts"], r["rmd"], r["left"], r["due_by"]) for r in rows] == [
        ("Kim Lee", "LEE-IRA|LEE-IRA2", f"{total:.2f}", f"{total:.2f}", f"{year}-12-31")]
    assert 'filename="rmds-' in download["Content-Disposition"]
    # Another advisor's book holds none of it.
    assert "Kim Lee" not in as_user("colleague").get("/households/rmds/").content.decode()


def test_a_missed_2022_rmd_is_shown_with_the_50_percent_excise_of_its_year_and_no_window(lees, as_user):
    import csv
    import io

    # Given an owner born 1 March 1949 whose 2022 RMD (100,000 / 26.5 = 3,773.59, due 31 Dec 2022) was not taken
    advisor = as_user("advisor")
    advisor.post(_url(lees["household"], "rmd-facts/"), {
        "account": lees["ira"].pk, "owner_birth_date": "1949-03-01", "year_end_value": "100000",
        "year_end_year": "2021"})
    # Then each page shows the excise of 2022's tax, 50% (IRC §4974 before SECURE 2.0), and no window
    page = advisor.get(_url(lees["household"])).content.decode()
    assert "Excise tax so far $1,886.80: 50% of the shortfall, made up or not" in page
    assert "excise tax so far $1,886.80 (50%, the rate before 2023)" in advisor.get(
        f"/accounts/{lees['ira'].pk}/").content.decode()
    assert "excise so far $1,886.80 (50%, the rate before 2023)" in advisor.get(
        "/households/rmds/?show=all").content.decode()
    rows = list(csv.DictReader(io.StringIO(advisor.get("/households/rmds/?download=csv&show=all").content.decode())))
    assert [(r["year"], r["missed"], r["excise"], r["window_end"]) for r in rows if r["year"] == "2022"] == [
        ("2022", "yes", "1886.80", "")]


def test_a_missed_rmd_is_shown_with_its_excise_and_made_up_in_one_click_for_its_year(lees, as_user, firm_a):
    import csv
    import io

    from django.utils import timezone

    from rebalancing.engine.rmd import UNIFORM_LIFETIME_TABLE
    from rebalancing.models import CashFlow

    # Given an owner born 1950 whose last year's RMD was never taken (values entered for both years)
    advisor, year = as_user("advisor"), timezone.localdate().year
    for value, of in (("80000", year - 2), ("100000", year - 1)):
        advisor.post(_url(lees["household"], "rmd-facts/"), {
            "account": lees["ira"].pk, "owner_name": "Kim Lee", "owner_birth_date": "1950-06-01",
            "year_end_value": value, "year_end_year": str(of)})
    missed = (Decimal(80000) / UNIFORM_LIFETIME_TABLE[year - 1 - 1950]).quantize(Decimal("0.01"), "ROUND_CEILING")
    excise = (missed * Decimal("0.25")).quantize(Decimal("0.01"), "ROUND_HALF_UP")
    # Then the household page shows it as missed, with its excise and the window, beside this year's
    page = advisor.get(_url(lees["household"])).content.decode()
    assert "missed</span>" in page and f"Excise tax so far ${excise:,}" in page
    assert f"Dec 31, {year + 1}" in page and f"Make up the ${missed:,} missed from LEE-IRA" in page
    # and so do the IRA's page and the book's report (with its CSV)
    assert f"excise tax so far ${excise:,}" in advisor.get(f"/accounts/{lees['ira'].pk}/").content.decode()
    rows = list(csv.DictReader(io.StringIO(advisor.get("/households/rmds/?download=csv").content.decode())))
    assert [(r["year"], r["missed"], r["left"], r["excise"]) for r in rows][0] == (
        str(year - 1), "yes", f"{missed:.2f}", f"{excise:.2f}")
    # When the advisor makes it up in one click, the distribution is for that year only
    made = advisor.post(_url(lees["household"], "cash-flows/"), {
        "kind": "rmd", "account": lees["ira"].pk, "amount": str(missed), "makes_up_year": str(year - 1)},
        follow=True).content.decode()
    assert f"Required minimum distribution of ${missed:,} making up the {year - 1} RMD planned" in made
    with tenant_context(firm_a):
        assert CashFlow.objects.get(household=lees["household"]).makes_up_year == year - 1
    assert "Make up the" not in made and "Plan the $" in made  # this year's is still whole to plan


def test_a_make_up_the_client_took_at_the_custodian_is_recorded_for_the_missed_year_on_the_page(lees, as_user, firm_a):
    from django.utils import timezone

    from rebalancing.models import CashFlow

    advisor, year = as_user("advisor"), timezone.localdate().year
    for value, of in (("80000", year - 2), ("100000", year - 1)):
        advisor.post(_url(lees["household"], "rmd-facts/"), {
            "account": lees["ira"].pk, "owner_birth_date": "1950-06-01", "year_end_value": value,
            "year_end_year": str(of)})
    page = advisor.get(_url(lees["household"])).content.decode()
    assert f'<option value="{year - 1}">making up the missed {year - 1} RMD</option>' in page
    recorded = advisor.post(_url(lees["household"], "cash-flows/"), {
        "taken_outside": "1", "kind": "rmd", "account": lees["ira"].pk, "as_of": str(timezone.localdate()),
        "amount": "100", "makes_up_year": str(year - 1)}, follow=True).content.decode()
    assert "recorded: its RMD counts it" in recorded
    with tenant_context(firm_a):
        assert CashFlow.objects.get().makes_up_year == year - 1
    assert "missed</span>" in recorded  # $100 of it made up: the rest is still missed


def test_a_withdrawal_decided_released_and_filled_in_the_browser_is_paid_out_and_the_page_says_so(lees, as_user,
                                                                                                  firm_a):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from rebalancing.models import CashFlow, Order

    advisor, pm = as_user("advisor"), as_user("pm")
    # 2,000 of the joint account's cash, then 3,000 raised by selling: a withdrawal of 5,000.
    planned = advisor.post(_url(lees["household"], "cash-flows/"), {"kind": "withdrawal", "amount": "5000"},
                           follow=True).content.decode()
    assert "Withdrawal of $5,000.00 planned" in planned
    with tenant_context(firm_a):
        flow = CashFlow.objects.get(household=lees["household"])
        together = HouseholdProposal.objects.get(run=flow.run)
        cash_before = dict(Account.objects.values_list("custodian_number", "cash"))
    advisor.post(_url(lees["household"], f"proposals/{together.pk}/decide/"), {"decision": "approve"})
    with tenant_context(firm_a):
        ids = list(Proposal.objects.filter(run=flow.run).values_list("pk", flat=True))
    for pk in ids:
        assert "released" in pm.post(f"/proposals/{pk}/decide/", {"action": "release"}, follow=True).content.decode()
    with tenant_context(firm_a):
        orders = list(Order.objects.filter(proposal__run=flow.run))
        rows = ["external_id,order_id,kind,quantity,price,trade_date"] + [  # filled the day they were released
            f"X{o.pk},{o.order_id},fill,{o.quantity},{o.reference_price},{o.released_on.isoformat()}" for o in orders]
    upload = SimpleUploadedFile("fills.csv", "\n".join(rows).encode(), content_type="text/csv")
    filled_on = max(o.released_on for o in orders).isoformat()
    assert pm.post("/ledger/executions/", {"file": upload, "as_of": filled_on}).status_code == 200

    page = advisor.get(_url(lees["household"])).content.decode()
    with tenant_context(firm_a):
        flow.refresh_from_db()
        cash_after = dict(Account.objects.values_list("custodian_number", "cash"))
        assert set(Proposal.objects.filter(run=flow.run).values_list("status", flat=True)) == {"executed"}
        proceeds = sum((o.quantity * o.reference_price).quantize(Decimal("0.01"))
                       for o in Order.objects.filter(proposal__run=flow.run))
    paid = sum(Decimal(v) for v in flow.paid.values())
    planned = {n: Decimal(str(v)).quantize(Decimal("0.01")) for n, v in flow.plan["distributions"].items()}
    assert {n: Decimal(v) for n, v in flow.paid.items()} == planned  # filled at the planned prices: all of it
    assert paid >= Decimal("5000.00") and sum(cash_after.values()) == sum(cash_before.values()) + proceeds - paid
    assert f"${paid:,.2f} paid out of {', '.join(sorted(flow.paid))}" in page


def test_an_earlier_withdrawal_still_waiting_is_decided_from_the_page_beside_the_latest(lees, as_user, firm_a):
    from rebalancing.models import CashFlow

    advisor = as_user("advisor")
    for amount in ("3000", "1500"):
        advisor.post(_url(lees["household"], "cash-flows/"), {"kind": "withdrawal", "amount": amount})
    with tenant_context(firm_a):
        first, second = CashFlow.objects.filter(household=lees["household"]).order_by("created_at")
        earlier = HouseholdProposal.objects.get(run=first.run)
        latest = HouseholdProposal.objects.get(run=second.run)
    page = advisor.get(_url(lees["household"])).content.decode()
    assert "Also waiting for a decision" in page and f"Household proposal #{earlier.pk} of run" in page
    assert "funds a withdrawal of $3,000.00" in page
    assert f'action="/households/{lees["household"].pk}/proposals/{latest.pk}/decide/"' in page  # the latest, as before
    answer = advisor.post(_url(lees["household"], f"proposals/{earlier.pk}/decide/"), {"decision": "approve"},
                          follow=True).content.decode()
    assert "Your approval of household proposal #" in answer and "Also waiting for a decision" not in answer
    with tenant_context(firm_a):
        assert set(Proposal.objects.filter(run=first.run).values_list("status", flat=True)) == {"approved"}
        assert set(Proposal.objects.filter(run=second.run).values_list("status", flat=True)) == {"pending_approval"}


def test_a_withdrawal_entered_after_an_approval_says_which_approved_proposals_gave_way(lees, as_user, firm_a):
    advisor = as_user("advisor")
    advisor.post(_url(lees["household"], f"proposals/{lees['proposal'].pk}/decide/"), {"decision": "approve"})
    page = advisor.post(_url(lees["household"], "cash-flows/"), {"kind": "withdrawal", "amount": "3000"},
                        follow=True).content.decode()
    assert "Withdrawal of $3,000.00 planned" in page
    with tenant_context(firm_a):
        approved = dict(lees["proposal"].proposals.values_list("account__custodian_number", "pk"))
    named = "; ".join(f"{n} #{approved[n]} (approved)" for n in ("LEE-IRA", "LEE-JT", "LEE-ROTH"))
    assert (f"3 open proposals of the household, made on the book before the withdrawal, gave way to it: {named}. "
            "A run after it proposes again.") in page


def test_a_refused_household_keeps_what_was_typed(lees, as_user, firm_a):
    # Given a household id already taken
    admin = as_user("admin")
    with tenant_context(firm_a):
        taken = lees["household"].external_id

    # When a firm admin creates another household with it
    refused = admin.post("/households/", {"name": "Okafor family", "external_id": taken, "managed_as": "household",
                                          "template": ""}, follow=True)

    # Then the refusal names the id, and the form still holds what was typed (before: emptied)
    page = refused.content.decode()
    assert f"A household with id {taken} exists already" in page
    assert 'value="Okafor family"' in page and f'name="external_id" required maxlength="64" placeholder="HH-1042" ' \
        f'value="{taken}"' in page
    assert '<option value="household" selected>' in page
    assert 'value="Okafor family"' not in admin.get("/households/").content.decode()  # once


@pytest.mark.parametrize("amount, says", [
    ("-250", "The amount must be more than 0"),
    ("a lot", "The amount must be a number, not “a lot”"),
    ("900000000", "can raise only"),
])
def test_a_refused_cash_flow_keeps_what_was_typed(lees, as_user, firm_a, amount, says):
    from rebalancing.models import CashFlow

    # Given an advisor entering a withdrawal from the household's taxable account
    advisor = as_user("advisor")
    with tenant_context(firm_a):
        before = CashFlow.objects.count()
    form = {"kind": "withdrawal", "amount": amount, "account": lees["joint"].pk, "reference": "W-TYPO"}

    # When the amount is refused
    answer = advisor.post(_url(lees["household"], "cash-flows/"), form, follow=True)

    # Then the page says why, nothing is entered, and the form holds what was typed (before: emptied,
    # or an error page for an amount that is not a number)
    page = answer.content.decode()
    assert answer.status_code == 200 and says in page
    assert f'id="cf-amount" name="amount" inputmode="decimal" placeholder="25,000" aria-describedby="cf-hint" ' \
        f'value="{amount}"' in page
    assert 'value="W-TYPO"' in page and f'<option value="{lees["joint"].pk}" selected>' in page
    assert '<option value="withdrawal" selected>' in page
    with tenant_context(firm_a):
        assert CashFlow.objects.count() == before


def test_a_refused_distribution_taken_outside_reopens_its_own_form(lees, as_user):
    advisor = as_user("advisor")

    answer = advisor.post(_url(lees["household"], "cash-flows/"), {
        "taken_outside": "1", "kind": "rmd", "account": lees["ira"].pk, "as_of": "2031-01-01", "amount": "1200",
        "reference": "OUT-1"}, follow=True)

    page = answer.content.decode()
    assert '<details id="rmd-taken" open>' in page
    assert 'name="as_of" value="2031-01-01"' in page and 'value="OUT-1"' in page
    assert 'id="cf-amount" name="amount" inputmode="decimal" placeholder="25,000" aria-describedby="cf-hint" value=""' \
        in page  # the other form stays empty


@pytest.mark.parametrize("short, long, says", [
    # 40.8% / 23.8%: 20,000 long-term costs 4,760 against a 2,500 budget
    ("0", "20000", "$4,760 spent by the year's sales so far: over by $2,260, so a run may add no tax this year"),
    # 5,000 long-term costs 1,190: 1,310 left
    ("0", "5000", "$1,190 spent by the year's sales so far; a run may spend $1,310 more"),
    # a 4,000 short-term loss: 3,000 of it deducted saves 1,224 (the rest carried); the run may spend that too,
    # less what its long-term gains would cost beyond their rate by using up the short-term loss (272)
    ("-4000", "0", "the year's losses have saved $1,224 of tax so far; a run may spend $3,452 more"),
])
def test_the_household_tax_budget_says_what_the_year_has_spent_and_what_is_left(lees, as_user, firm_a, short, long,
                                                                                says):
    with tenant_context(firm_a):
        Household.objects.filter(pk=lees["household"].pk).update(household_overrides={"tax_budget": 2500.0})
        Account.objects.filter(pk=lees["joint"].pk).update(
            short_term_rate=Decimal("0.408"), long_term_rate=Decimal("0.238"), realised_short_term_ytd=Decimal(short),
            realised_long_term_ytd=Decimal(long), realised_ytd_year=timezone.localdate().year)
    page = as_user("advisor").get(_url(lees["household"])).content.decode()
    [standing] = re.findall(r'data-testid="budget-standing">(.*?)</span>', page, re.S)
    assert re.sub(r"<[^>]+>", "", standing) == says
