"""A household's tax returns on its page: the filing status, each spouse's opening carryover and whose
return each account is on, refused in words (keeping what was typed) when it makes no sense; the
Schedule D report with one sheet per spouse and their sum when the household files separately."""

from decimal import Decimal as D

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from rebalancing.models import Account, Household
from tenants.audit.models import AuditEvent
from tests.ledger.helpers import spouses_loss_and_gain
from tests.rebalancing.household_book import make_unit_household

pytestmark = pytest.mark.django_db


@pytest.fixture
def lees(firm_a, people):
    with tenant_context(firm_a):
        yield make_unit_household(advisor=people["advisor"])


def _url(household, tail=""):
    return f"/households/{household.pk}/{tail}"


def test_the_advisor_sets_filing_separately_each_spouses_carryover_and_whose_each_account_is(lees, as_user, firm_a):
    advisor, household = as_user("advisor"), lees["household"]
    page = advisor.get(_url(household)).content.decode()
    assert f'action="/households/{household.pk}/tax/"' in page
    assert "whose each account is matters only when the household files separately" in page

    saved = advisor.post(_url(household, "tax/"), {
        "filing_status": "married_separate", "carryforward_year": "2026", "carryforward_short_term": "4,000",
        "carryforward_long_term": "", "carryforward_second_short_term": "$1,250.50", "carryforward_second_long_term": "0",
        f"spouse:{lees['joint'].pk}": "joint", f"spouse:{lees['ira'].pk}": "first", f"spouse:{lees['roth'].pk}": "second",
    }, follow=True)

    html = saved.content.decode()
    assert "Tax returns saved" in html
    assert "each spouse files their own Schedule D" in html  # the page says what the status means
    assert '<option value="married_separate" selected>' in html and 'value="1250.50"' in html
    with tenant_context(firm_a):
        h = Household.objects.get(pk=household.pk)
        assert (h.filing_status, h.carryforward_year, h.carryforward_short_term, h.carryforward_long_term,
                h.carryforward_second_short_term) == ("married_separate", 2026, D(4000), 0, D("1250.50"))
        assert dict(Account.objects.filter(household=h).values_list("custodian_number", "spouse")) == {
            "LEE-JT": "joint", "LEE-IRA": "first", "LEE-ROTH": "second"}
        event = AuditEvent.objects.get(action="household.tax", object_id=str(household.pk))
        assert event.after["spouse"] == {"LEE-JT": "joint", "LEE-ROTH": "second"}
    # The IRA is offered no joint option (IRC §408(a)); the joint taxable account is.
    assert f'<select id="t-spouse-{lees["ira"].pk}" name="spouse:{lees["ira"].pk}"><option value="first" selected>' \
           'First spouse</option><option value="second">Second spouse</option></select>' in html


@pytest.mark.parametrize("form, says", [
    ({"spouse:ira": "joint"}, "LEE-IRA: an IRA or Roth IRA cannot be joint"),
    ({"carryforward_short_term": "-500"}, "is a loss written as a positive amount"),
    ({"carryforward_year": "twenty"}, "The year the opening loss is carried into must be a whole number"),
    ({"filing_status_from": "twenty"}, "The first year of the filing status must be a whole number"),
    ({"carryforward_year": "", "carryforward_short_term": "900"}, "Say the year the opening loss is carried into"),
    ({"filing_status": "single", "carryforward_second_short_term": "700"},
     "A second spouse&#x27;s own carryover is for a year filed as a married couple (jointly or separately)"),
])
def test_a_refused_tax_form_says_why_keeps_what_was_typed_and_changes_nothing(lees, as_user, firm_a, form, says):
    # Given the advisor's form with one thing that makes no sense
    advisor, household = as_user("advisor"), lees["household"]
    typed = {"filing_status": "married_separate", "carryforward_year": "2026", "carryforward_short_term": "1,234.56",
             "carryforward_long_term": "0", "carryforward_second_short_term": "0", "carryforward_second_long_term": "0",
             f"spouse:{lees['joint'].pk}": "second", f"spouse:{lees['ira'].pk}": "second"}
    typed.update({(f"spouse:{lees['ira'].pk}" if k == "spouse:ira" else k): v for k, v in form.items()})
    # When it is posted
    refused = advisor.post(_url(household, "tax/"), typed, follow=True)
    # Then the page says why, at the top, and the form holds what was typed (once)
    html = refused.content.decode()
    assert refused.status_code == 200 and says in html
    assert f'value="{typed["carryforward_short_term"]}"' in html
    assert f'<option value="{typed["filing_status"]}" selected>' in html
    assert f'<select id="t-spouse-{lees["joint"].pk}" name="spouse:{lees["joint"].pk}"><option value="first">First ' \
           'spouse</option><option value="second" selected>' in html
    assert 'value="1,234.56"' not in advisor.get(_url(household)).content.decode()
    # and nothing was written
    with tenant_context(firm_a):
        h = Household.objects.get(pk=household.pk)
        assert (h.filing_status, h.carryforward_year, h.carryforward_short_term) == ("married_joint", None, 0)
        assert set(Account.objects.filter(household=h).values_list("spouse", flat=True)) == {"first"}
        assert not AuditEvent.objects.filter(action="household.tax").exists()


def test_a_change_of_filing_status_from_a_year_keeps_the_years_before_and_the_page_says_so(lees, as_user, firm_a):
    advisor, household = as_user("advisor"), lees["household"]
    this_year = timezone.localdate().year
    page = advisor.get(_url(household)).content.decode()
    # the year the status applies from: this year unless chosen, or every year (a correction)
    assert f'<option value="{this_year}" selected>{this_year}</option>' in page
    assert '<option value="1900">every year (a correction: it was never another)</option>' in page
    assert 'data-testid="filing-history"' not in page  # one status so far
    saved = advisor.post(_url(household, "tax/"), {
        "filing_status": "married_separate", "filing_status_from": str(this_year - 1), "carryforward_year": "",
        "carryforward_short_term": "0", "carryforward_long_term": "0", "carryforward_second_short_term": "0",
        "carryforward_second_long_term": "0"}, follow=True).content.decode()
    assert "Tax returns saved" in saved
    assert (f"Filed: Married filing jointly through {this_year - 2}; Married filing separately from "
            f"{this_year - 1}.") in saved
    with tenant_context(firm_a):
        h = Household.objects.get(pk=household.pk)
        assert (h.filing_status, h.past_statuses) == ("married_separate", ((this_year - 2, "married_joint"),))
    # a correction of every year: one status, no history
    advisor.post(_url(household, "tax/"), {"filing_status": "married_separate", "filing_status_from": "1900"})
    assert 'data-testid="filing-history"' not in advisor.get(_url(household)).content.decode()


def test_whose_return_a_single_year_after_married_ones_is_set_on_the_page(lees, as_user, firm_a):
    advisor, household = as_user("advisor"), lees["household"]
    this_year = timezone.localdate().year
    page = advisor.get(_url(household)).content.decode()
    assert ('<select id="t-filer" name="sole_filer" aria-describedby="t-status-from-hint"><option value="first" '
            "selected>First spouse's</option><option value=\"second\">Second spouse's</option></select>") in page
    saved = advisor.post(_url(household, "tax/"), {
        "filing_status": "single", "filing_status_from": str(this_year), "sole_filer": "second",
        "carryforward_year": "", "carryforward_short_term": "0", "carryforward_long_term": "0",
        "carryforward_second_short_term": "0", "carryforward_second_long_term": "0"}, follow=True).content.decode()
    assert "Tax returns saved" in saved and '<option value="second" selected>Second spouse' in saved
    refused = advisor.post(_url(household, "tax/"), {"filing_status": "single", "sole_filer": "nobody"},
                           follow=True).content.decode()
    assert "the first or the second spouse&#x27;s, not &#x27;nobody&#x27;" in refused
    with tenant_context(firm_a):
        assert Household.objects.get(pk=household.pk).sole_filer == "second"


def test_who_may_not_edit_parameters_may_not_set_the_returns(lees, as_user, firm_a):
    assert as_user("colleague").post(_url(lees["household"], "tax/"), {"filing_status": "single"}).status_code == 404
    with tenant_context(firm_a):
        assert Household.objects.get(pk=lees["household"].pk).filing_status == "married_joint"


def test_a_refused_move_in_keeps_the_account_number_typed(lees, as_user):
    # Before: the household's accounts form came back empty after a refusal (docs/frontend.md).
    admin = as_user("admin")
    refused = admin.post(_url(lees["household"], "accounts/"), {"add": "NOPE-17"}, follow=True).content.decode()
    assert "No account NOPE-17" in refused
    assert 'autocomplete="off" value="NOPE-17"' in refused
    assert 'value="NOPE-17"' not in admin.get(_url(lees["household"])).content.decode()  # once


def test_the_schedule_d_report_shows_each_spouses_return_and_their_sum(lees, people, as_user, firm_a):
    # given: filing separately, spouse A loses 10,000 and spouse B gains 10,000
    with tenant_context(firm_a):
        spouses_loss_and_gain(lees["model"], pm=people["pm"])
    # when
    html = as_user("pm").get("/reports/realised/?year=2026").content.decode()
    # then: A deducts 1,500 and carries 8,500; B's 10,000 is taxed; the household's line sums the two
    # returns (1,500 deducted, 8,500 carried), never nets them to nothing
    assert "Schedule D 2026 per return" in html

    def row(key):
        rest = html[html.index(f'data-return="{key}"'):]
        return rest[:rest.index("</tr>")]

    first, second, total = row("HH-OK:first"), row("HH-OK:second"), row("HH-OK:total")
    assert "first spouse" in first and "1,500.00" in first and "8,500.00" in first
    assert "second spouse" in second and "10,000.00" in second
    assert "both returns" in total and "1,500.00" in total and "8,500.00" in total
    csv = as_user("pm").get("/reports/realised/?year=2026&download=schedule-d").content.decode().splitlines()
    assert [line.split(",")[3] for line in csv[1:] if line.startswith("HH-OK")] == ["first", "second"]


def test_the_account_page_says_whose_return_the_account_is_on_when_the_household_files_separately(lees, as_user,
                                                                                                  firm_a):
    joint = lees["joint"]
    assert "half each</a>" not in as_user("advisor").get(f"/accounts/{joint.pk}/").content.decode()  # one return
    with tenant_context(firm_a):
        Household.objects.filter(pk=lees["household"].pk).update(filing_status="married_separate")
        Account.objects.filter(pk=joint.pk).update(spouse="joint")
        Account.objects.filter(pk=lees["ira"].pk).update(spouse="second")
    assert "two spouses' returns, half each</a>" in as_user("advisor").get(f"/accounts/{joint.pk}/").content.decode()
    assert "second spouse's return</a>" in as_user("advisor").get(f"/accounts/{lees['ira'].pk}/").content.decode()


def test_accounts_of_one_return_with_different_tax_rates_are_named_on_the_page(lees, people, as_user, firm_a):
    from tests.rebalancing.book import make_account

    household = lees["household"]
    advisor = as_user("advisor")
    assert 'data-testid="rates-apart"' not in advisor.get(_url(household)).content.decode()  # one taxable account
    with tenant_context(firm_a):
        second = make_account("L-TX2", model=None, household=household, cash="100")
        Account.objects.filter(pk=second.pk).update(short_term_rate=D("0.24"), long_term_rate=D("0.15"))
    page = advisor.get(_url(household)).content.decode()
    assert "On the household&#x27;s return the accounts carry different tax rates (short-term / long-term: " \
           f"L-TX2 24.0% / 15.0%, {lees['joint'].custodian_number} 37.0% / 20.0%)" in page

    with tenant_context(firm_a):  # filing separately, each spouse's return is read on its own
        Household.objects.filter(pk=household.pk).update(filing_status="married_separate")
        Account.objects.filter(pk=lees["joint"].pk).update(spouse="first")
        Account.objects.filter(pk=second.pk).update(spouse="second")
    assert 'data-testid="rates-apart"' not in advisor.get(_url(household)).content.decode()
    with tenant_context(firm_a):  # a joint account is on both returns, half each
        Account.objects.filter(pk=lees["joint"].pk).update(spouse="joint")
    page = advisor.get(_url(household)).content.decode()
    assert page.count('data-testid="rates-apart"') == 1 and "On the second spouse&#x27;s return" in page


def test_the_return_rates_are_set_on_the_page_in_percent_and_the_flag_goes(lees, as_user, firm_a):
    from tests.rebalancing.book import make_account

    household, advisor = lees["household"], as_user("advisor")
    with tenant_context(firm_a):
        second = make_account("L-TX2", model=None, household=household, cash="100")
        Account.objects.filter(pk=second.pk).update(short_term_rate=D("0.24"), long_term_rate=D("0.15"))
    page = advisor.get(_url(household)).content.decode()
    assert 'name="short_term_rate" inputmode="decimal" value="" placeholder="accounts differ"' in page

    refused = advisor.post(_url(household, "tax/"), {"filing_status": "married_joint", "short_term_rate": "140",
                                                     "long_term_rate": "23.8"}, follow=True).content.decode()
    assert "The short-term rate is a percentage from 0 to 100, not 140." in refused
    assert 'value="140"' in refused  # kept as typed
    saved = advisor.post(_url(household, "tax/"), {"filing_status": "married_joint", "short_term_rate": "40.8",
                                                   "long_term_rate": "23.8"}, follow=True).content.decode()
    assert "Tax returns saved" in saved and 'data-testid="rates-apart"' not in saved
    assert 'name="short_term_rate" inputmode="decimal" value="40.8"' in saved
    with tenant_context(firm_a):
        assert set(Account.objects.filter(household=household, tax_status="taxable")
                   .values_list("short_term_rate", "long_term_rate")) == {(D("0.408"), D("0.238"))}
        assert Account.objects.get(pk=lees["ira"].pk).short_term_rate == D("0.37")  # no return's


def test_one_spouses_new_rate_reaching_the_other_through_a_joint_account_is_said(lees, as_user, firm_a):
    # Filing separately, the second spouse's rates typed (30% / 10%), the first's left as shown: the
    # joint account is on both returns at one rate, so the first spouse's return takes them too -
    # saved as before, but said (it was silent: the first spouse's 32% / 15% just changed).
    household = lees["household"]
    with tenant_context(firm_a):
        Account.objects.filter(pk=lees["joint"].pk).update(short_term_rate=D("0.32"), long_term_rate=D("0.15"),
                                                           spouse="joint")
        Household.objects.filter(pk=household.pk).update(filing_status="married_separate")
    advisor = as_user("advisor")
    answer = advisor.post(_url(household, "tax/"), {
        "filing_status": "married_separate", "short_term_rate": "32", "long_term_rate": "15",
        "second_short_term_rate": "30", "second_long_term_rate": "10", f"spouse:{lees['joint'].pk}": "joint",
        f"spouse:{lees['ira'].pk}": "first", f"spouse:{lees['roth'].pk}": "second"}, follow=True).content.decode()
    assert "Tax returns saved" in answer
    assert ("LEE-JT is joint, on both spouses&#x27; returns at one rate: the first spouse&#x27;s return takes the "
            "rates you changed for LEE-JT too.") in answer
    with tenant_context(firm_a):
        joint = Account.objects.get(pk=lees["joint"].pk)
        assert (joint.short_term_rate, joint.long_term_rate) == (D("0.30"), D("0.10"))
