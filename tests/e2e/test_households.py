"""The household page in a real browser: what sits where, the household proposal approved with one
decision (the advisor's, then compliance's for the accounts above its thresholds), a withdrawal
entered in dollars, and a screenshot for the README."""

import re
from decimal import Decimal

import pytest
from django_tenants.utils import schema_context
from playwright.sync_api import expect

from rebalancing.models import Account, CashFlow, Household, HouseholdProposal, Proposal
from rebalancing.selectors import RunScope
from rebalancing.services.runs import run_chunks, run_process_chunk, run_start
from tests.rebalancing.book import AS_OF
from tests.rebalancing.household_book import household_remove, make_unit_household

from .conftest import orm_beside_playwright


@pytest.fixture(scope="module")
def lees(e2e_firm, django_db_blocker):
    """A household managed as one in the browser tests' firm (the second advisor's, so the first
    advisor's queue that other browser tests read is unchanged), with its proposal pending."""
    schema = e2e_firm["firm"].schema_name
    with django_db_blocker.unblock(), orm_beside_playwright(), schema_context(schema):
        made = make_unit_household(advisor=e2e_firm["people"]["colleague"], external_id="HH-E2E-LEE", prefix="E2L")
        run = run_start(scope=RunScope(household_id=made["household"].pk), as_of=AS_OF, label="e2e households")
        for chunk in run_chunks(run):
            run_process_chunk(run_id=run.pk, account_ids=chunk)
    yield made
    with django_db_blocker.unblock(), orm_beside_playwright(), schema_context(schema):
        household_remove(made)


def _statuses(household_pk):
    together = HouseholdProposal.objects.filter(household_id=household_pk).latest("created_at")
    return set(Proposal.objects.filter(household_proposal=together).values_list("status", flat=True))


def test_the_household_page_is_approved_with_one_decision(lees, signed_in, firm_url, in_firm, e2e_server, shot):
    page = signed_in("colleague")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Households").click()
    page.get_by_role("link", name="E2L family").click()
    expect(page.get_by_role("heading", name="What sits where")).to_be_visible()
    expect(page.locator("canvas[data-chart='chart-where']")).to_be_visible()
    expect(page.locator("#location")).to_contain_text("Traditional IRA")
    expect(page.locator("#proposal")).to_contain_text("Pending approval")
    page.wait_for_timeout(500)  # the chart is drawn
    shot(page, "household", full_page=False)

    # Each account's trades can still be opened.
    with page.expect_navigation():
        page.locator("#proposal").get_by_role("link", name="Open the account's trades").first.click()
    expect(page.get_by_role("heading", name="Trades and why")).to_be_visible()
    page.go_back()

    # The advisor takes one of the IRA's trades out and the household is solved again as one.
    edit = page.locator("#proposal-edit")
    edit.locator("input[name='drop'][value^='E2L-IRA:']").first.check()
    # A third instruction row, from the "add another" button, labelled and empty.
    edit.get_by_role("button", name="Add another instruction").click()
    expect(edit.locator("select[name='ins_action']")).to_have_count(3)
    expect(page.get_by_label("Instruction").nth(2)).to_have_value("")
    edit.locator("#hins-account-3").select_option("E2L-JT")
    edit.locator("#hins-action-3").select_option("do_not_sell")
    edit.locator("#hins-symbol-3").fill("VTI")
    # Up to 20 rows (the server's limit), then the button goes; the rows left empty are ignored.
    more = edit.get_by_role("button", name="Add another instruction")
    for _ in range(17):
        more.click()
    expect(edit.locator("select[name='ins_action']")).to_have_count(20)
    expect(more).to_be_hidden()
    edit.get_by_role("button", name="Solve the household again").click()
    expect(page.locator(".messages")).to_contain_text(re.compile(r"Solved the household again as household proposal #\d+"))
    expect(page.get_by_test_id("household-revised-from")).to_contain_text("E2L-IRA: dropped the")
    expect(page.get_by_test_id("household-revised-from")).to_contain_text("E2L-JT: do not sell VTI")
    expect(page.locator("#proposal")).to_contain_text("Pending approval")

    page.get_by_label(re.compile("Comment")).fill("Agreed with the Lees")
    page.get_by_role("button", name="Approve all accounts' proposals").click()
    expect(page.locator(".messages")).to_contain_text("Your approval of household proposal #")
    with in_firm():
        statuses = _statuses(lees["household"].pk)
    assert Proposal.Status.REJECTED not in statuses
    if Proposal.Status.PENDING in statuses:  # above compliance's thresholds: compliance decides them together
        page.context.clear_cookies()
        page = signed_in("compliance")
        page.goto(firm_url(f"/households/{lees['household'].pk}/"))
        page.get_by_role("button", name="Approve all accounts' proposals").click()
        expect(page.locator(".messages")).to_contain_text("Your approval of household proposal #")
    with in_firm():
        assert _statuses(lees["household"].pk) == {Proposal.Status.APPROVED}


def test_a_withdrawal_is_entered_on_the_household_page(lees, signed_in, firm_url, in_firm):
    page = signed_in("colleague")
    page.goto(firm_url(f"/households/{lees['household'].pk}/"))
    form = page.get_by_role("form", name="Enter a cash flow")
    form.get_by_label("Kind").select_option("withdrawal")
    form.get_by_label("Amount ($)").fill("5,000")
    form.get_by_role("button", name="Enter").click()
    expect(page.locator(".messages")).to_contain_text(re.compile(r"Withdrawal of \$5,000\.00 planned: estimated tax"))
    expect(page.locator("#proposal")).to_contain_text("Funds a withdrawal of $5,000.00")
    expect(page.get_by_role("table", name="Cash flows entered")).to_contain_text("Withdrawal")
    with in_firm():
        flow = CashFlow.objects.get(household=lees["household"])
        assert flow.amount == 5000 and flow.plan["cash_used"]["E2L-JT"] == 2000  # the taxable account's cash first
        assert Household.objects.get(pk=lees["household"].pk).cash_flows.count() == 1


def test_an_iras_rmd_is_computed_and_planned_on_the_household_page_beside_a_waiting_withdrawal(
        lees, signed_in, firm_url, in_firm, shot):
    from decimal import ROUND_CEILING, Decimal

    from django.utils import timezone

    from rebalancing.engine.rmd import UNIFORM_LIFETIME_TABLE

    year = timezone.localdate().year
    page = signed_in("colleague")
    page.goto(firm_url(f"/households/{lees['household'].pk}/"))
    rmds = page.locator("#rmds")
    expect(rmds).to_contain_text(f"Required minimum distributions, {year}")
    expect(rmds).to_contain_text("Enter the date of birth of E2L-IRA's owner")
    rmds.get_by_text("What E2L-IRA's RMD is computed from").click()
    facts = page.get_by_role("form", name="RMD facts of E2L-IRA")
    facts.get_by_label("Owner's date of birth").fill("1950-06-01")
    facts.get_by_label("Value on 31 December ($)").fill("100,000")
    facts.get_by_label("Of the year").fill(str(year - 1))
    facts.get_by_role("button", name="Save").click()
    expect(page.locator(".messages")).to_contain_text("RMD facts of E2L-IRA saved")
    expect(page.locator("#rmds")).to_contain_text("Uniform Lifetime Table")
    # What the client took at the custodian is recorded and counts: the RMD left falls by it.
    page.locator("#rmds").get_by_text("Record a distribution already taken at the custodian").click()
    taken = page.get_by_role("form", name="Record a distribution already taken")
    taken.get_by_label("Amount ($)").fill("1,000")
    taken.get_by_role("button", name="Record it").click()
    expect(page.locator(".messages")).to_contain_text("recorded: its RMD counts it. Nothing is sold.")
    due = (Decimal(100000) / UNIFORM_LIFETIME_TABLE[year - 1950]).quantize(Decimal("0.01"), rounding=ROUND_CEILING)
    expect(page.locator("#rmds").get_by_role("button", name=re.compile("Plan the"))).to_contain_text(
        f"Plan the ${due - 1000:,} left from E2L-IRA")
    plan = page.locator("#rmds").get_by_role("button", name=re.compile(r"Plan the \$[\d,]+\.\d\d left"))
    expect(plan).to_be_visible()
    shot(page.locator("#cash-flows"), "household-rmd")

    # The withdrawal of the test before still waits: the RMD is planned beside it, on the book as it will leave it.
    plan.click()
    expect(page.locator(".messages")).to_contain_text(re.compile(r"Required minimum distribution of \$[\d,]+\.\d\d planned"))
    expect(page.locator("#rmds").get_by_role("button", name=re.compile("Plan the"))).to_have_count(0)
    with in_firm():
        flow = CashFlow.objects.filter(household=lees["household"], kind="rmd", taken_outside=False).get()
        assert flow.account.custodian_number == "E2L-IRA" and set(flow.plan["distributions"]) == {"E2L-IRA"}


def test_the_books_rmds_are_one_click_from_the_households(lees, signed_in, firm_url):
    # After the test before: E2L-IRA's RMD is all taken (recorded) or planned.
    page = signed_in("colleague")
    page.goto(firm_url("/households/"))
    page.get_by_role("link", name="RMDs this year").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Required minimum distributions")
    expect(page.get_by_role("link", name=re.compile(r"Owing \(0\)"))).to_be_visible()
    expect(page.locator("main")).to_contain_text("Every RMD that can be computed is taken or planned.")
    page.get_by_role("link", name=re.compile(r"All computed \(1\)")).click()
    row = page.get_by_role("row").filter(has_text="E2L-IRA")
    expect(row).to_contain_text("$0.00")  # nothing left
    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV").click()
    assert download.value.suggested_filename.startswith("rmds-")


def test_a_missed_rmd_shows_its_excise_and_a_make_up_taken_at_the_custodian_clears_it(lees, signed_in, firm_url,
                                                                                       in_firm):
    from decimal import ROUND_CEILING, Decimal

    from django.utils import timezone

    from rebalancing.engine.rmd import UNIFORM_LIFETIME_TABLE

    # After the tests before (E2L-IRA's owner born 1950; this year's RMD taken or planned): the value
    # of the year before last is entered, and last year's RMD, never taken, shows as missed
    year = timezone.localdate().year
    page = signed_in("colleague")
    page.goto(firm_url(f"/households/{lees['household'].pk}/"))
    page.locator("#rmds").get_by_text("What E2L-IRA's RMD is computed from").click()
    facts = page.get_by_role("form", name="RMD facts of E2L-IRA")
    facts.get_by_label("Value on 31 December ($)").fill("90,000")
    facts.get_by_label("Of the year").fill(str(year - 2))
    facts.get_by_role("button", name="Save").click()
    expect(page.locator(".messages")).to_contain_text("RMD facts of E2L-IRA saved")
    missed = (Decimal(90000) / UNIFORM_LIFETIME_TABLE[year - 1 - 1950]).quantize(Decimal("0.01"), rounding=ROUND_CEILING)
    rmds = page.locator("#rmds")
    expect(rmds).to_contain_text(f"Missed: ${missed:,} was not taken by Dec 31, {year - 1}")
    expect(rmds).to_contain_text(f"Excise tax so far ${(missed / 4).quantize(Decimal('0.01'), 'ROUND_HALF_UP'):,}")
    expect(rmds.get_by_role("button", name=f"Make up the ${missed:,} missed from E2L-IRA")).to_be_visible()
    # When the client made it up at the custodian and the advisor records it for that year
    rmds.get_by_text("Record a distribution already taken at the custodian").click()
    taken = page.get_by_role("form", name="Record a distribution already taken")
    taken.get_by_label("Amount ($)").fill(f"{missed}")
    taken.get_by_label("Counts for").select_option(label=f"making up the missed {year - 1} RMD")
    taken.get_by_role("button", name="Record it").click()
    # Then nothing is missed any more, and this year's RMD is as it was (all taken or planned)
    expect(page.locator(".messages")).to_contain_text("recorded: its RMD counts it. Nothing is sold.")
    expect(page.locator("#rmds")).not_to_contain_text("Missed:")
    expect(page.locator("#rmds").get_by_role("button", name=re.compile("Plan the|Make up the"))).to_have_count(0)
    with in_firm():
        assert CashFlow.objects.get(household=lees["household"], makes_up_year=year - 1).amount == missed


def test_the_household_is_set_to_file_separately_and_a_refusal_keeps_what_was_typed(lees, signed_in, firm_url,
                                                                                       in_firm):
    from django.utils import timezone

    # Given the advisor on the household page's tax returns
    page = signed_in("colleague")
    page.goto(firm_url(f"/households/{lees['household'].pk}/"))
    form = page.get_by_role("form", name="Tax returns of E2L family")
    expect(page.locator("#tax")).to_contain_text("whose each account is matters only when the household files separately")
    # When a carried loss is typed without the year it is carried into
    form.get_by_label("Filing status").select_option("married_separate")
    form.get_by_label(re.compile("^Short-term: the household")).fill("4,000")
    form.get_by_label(re.compile("^E2L-JT")).select_option("joint")
    form.get_by_role("button", name="Save tax returns").click()
    # Then it is refused in words, and the form holds what was typed
    expect(page.locator(".messages")).to_contain_text("Say the year the opening loss is carried into")
    form = page.get_by_role("form", name="Tax returns of E2L family")
    expect(form.get_by_label("Filing status")).to_have_value("married_separate")
    expect(form.get_by_label(re.compile("^Short-term: the household"))).to_have_value("4,000")
    expect(form.get_by_label(re.compile("^E2L-JT"))).to_have_value("joint")
    # An IRA is offered no joint option (IRC §408(a))
    expect(form.get_by_label(re.compile("^E2L-IRA")).locator("option[value='joint']")).to_have_count(0)
    # When the year is added, it is saved: each spouse's return from now on
    form.get_by_label("Losses carried into the year").fill(str(timezone.localdate().year))
    form.get_by_role("button", name="Save tax returns").click()
    expect(page.locator(".messages")).to_contain_text("Tax returns saved")
    expect(page.locator("#tax")).to_contain_text("each spouse files their own Schedule D")
    this_year = timezone.localdate().year  # the status applies from this year: the years before keep theirs
    expect(page.get_by_test_id("filing-history")).to_have_text(
        f"Filed: Married filing jointly through {this_year - 1}; Married filing separately from {this_year}.")
    expect(page.locator("#accounts")).to_contain_text("Joint (half each)")
    with in_firm():
        household = Household.objects.get(pk=lees["household"].pk)
        assert (household.filing_status, household.carryforward_short_term) == ("married_separate", 4000)
        assert Account.objects.get(household=household, custodian_number="E2L-JT").spouse == "joint"
    # And the first spouse's marginal rates, in percent: the joint account is on both returns
    form = page.get_by_role("form", name="Tax returns of E2L family")
    form.get_by_label(re.compile("^Short-term rate: the household")).fill("40.8")
    form.get_by_label(re.compile("^Long-term rate: the household")).fill("23.8")
    form.get_by_role("button", name="Save tax returns").click()
    expect(page.locator(".messages")).to_contain_text("Tax returns saved")
    expect(page.get_by_role("form", name="Tax returns of E2L family")
           .get_by_label(re.compile("^Short-term rate: the household"))).to_have_value("40.8")
    with in_firm():
        joint = Account.objects.get(household=lees["household"], custodian_number="E2L-JT")
        assert (joint.short_term_rate, joint.long_term_rate) == (Decimal("0.408"), Decimal("0.238"))
