"""The household page as a browser QA round found it: a deposit said to be invested when no run
could invest it, a withdrawal naming only the approved proposals it superseded, inputs the stylesheet
missed, a withdrawal's funding run together in one line, a filing status change refused for the
form's own prefill, and a preview showing trades a run would not make."""

import re
from decimal import Decimal as D

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from rebalancing.ledger.carryover import loss_carried_into
from rebalancing.models import Account, CashFlow, Household, Proposal, RebalanceRun
from tests.rebalancing.workflow import policy

from . import test_household_pages as household_pages

pytestmark = pytest.mark.django_db


_url = household_pages._url
lees = household_pages.lees  # the Lee household with its pending household proposal, and its members


def _flash(page: str) -> str:
    """The messages shown at the top of the page (not the forms below, which name their fields)."""
    found = re.search(r'<ul class="messages" role="status">(.*?)</ul>', page, re.S)
    return found.group(1) if found else ""


def test_a_deposit_no_run_can_invest_says_why_and_the_page_offers_replacing_the_approval(lees, as_user, firm_a):
    # Given the household's proposal approved and not released (its approval keeps every account out of a run)
    as_user("advisor").post(_url(lees["household"], f"proposals/{lees['proposal'].pk}/decide/"), {"decision": "approve"})
    pm = as_user("pm")
    with tenant_context(firm_a):
        runs_before = RebalanceRun.objects.count()

    # When a deposit is entered
    page = pm.post(_url(lees["household"], "cash-flows/"), {"kind": "deposit", "amount": "25,000",
                                                            "account": lees["roth"].pk}, follow=True).content.decode()

    # Then it is credited, said not to be invested, naming the approvals that hold it and what to do; no empty run
    said = _flash(page)
    assert "Deposit of $25,000.00 credited to LEE-ROTH, not invested" in said and "invests it" not in said
    for number, pk in lees["members"].items():
        assert f"#{pk} of {number}" in said
    assert "rebalance the household replacing approved proposals" in said
    with tenant_context(firm_a):
        flow = CashFlow.objects.get(kind="deposit")
        assert flow.run_id is None and RebalanceRun.objects.count() == runs_before
        assert Account.objects.get(pk=lees["roth"].pk).cash == D("12000") + D("25000")
    assert "Not invested when entered: the approved proposals" in page  # the cash-flow table says it too

    # And the page offers replacing the approvals, in its own words
    assert 'name="replace_approved" value="1"' in page and "Replace the approved proposals" in page
    refused = _flash(pm.post(_url(lees["household"], "rebalance/"), follow=True).content.decode())
    assert "Nothing to rebalance" in refused and "Replace the approved proposals" in refused
    assert "replace_approved" not in refused
    started = pm.post(_url(lees["household"], "rebalance/"), {"replace_approved": "1"})
    assert started.status_code == 302
    with tenant_context(firm_a):
        run = RebalanceRun.objects.latest("pk")
        assert run.scope.get("replace_approved") is True and run.total == 3


def test_a_deposit_a_run_can_invest_names_the_run(lees, as_user, firm_a):
    page = as_user("pm").post(_url(lees["household"], "cash-flows/"), {
        "kind": "deposit", "amount": "500", "account": lees["roth"].pk}, follow=True).content.decode()
    with tenant_context(firm_a):
        flow = CashFlow.objects.get(kind="deposit")
    assert flow.run_id and f"Deposit of $500.00 credited to LEE-ROTH; run {flow.run_id} invests it." in page
    assert "Replace the approved proposals" not in page  # nothing approved waits: no box


def test_a_withdrawal_names_every_proposal_that_gave_way_pending_ones_too(lees, as_user):
    page = as_user("advisor").post(_url(lees["household"], "cash-flows/"), {"kind": "withdrawal", "amount": "3000"},
                                   follow=True).content.decode()
    named = "; ".join(f"{n} #{lees['members'][n]} (waiting for approval)" for n in sorted(lees["members"]))
    assert f"3 open proposals of the household, made on the book before the withdrawal, gave way to it: {named}." \
        in page


def test_every_input_of_the_household_page_has_a_type_the_stylesheet_styles(lees, as_user, firm_a):
    with tenant_context(firm_a):
        Account.objects.filter(pk=lees["ira"].pk).update(owner_birth_date="1950-01-01", owner_name="Ann Lee")
    page = as_user("pm").get(_url(lees["household"])).content.decode()
    inputs = re.findall(r"<input\b[^>]*>", page)
    assert inputs and [i for i in inputs if " type=" not in i] == []
    assert re.search(r'<input type="text" id="cf-amount" name="amount" inputmode="decimal"', page)
    assert '<input type="text" id="t-short2" name="carryforward_second_short_term" inputmode="decimal"' in page
    assert 'class="filters roomy" aria-label="Enter a cash flow"' in page
    assert '<div class="wide"><label for="cf-file">' in page  # the upload's long label spans the form


def test_an_amount_typed_with_separators_is_still_read(lees, as_user, firm_a):
    as_user("pm").post(_url(lees["household"], "cash-flows/"), {"kind": "deposit", "amount": "1,000.50",
                                                                "account": lees["roth"].pk})
    with tenant_context(firm_a):
        assert CashFlow.objects.get(kind="deposit").amount == D("1000.50")


def test_a_withdrawal_paid_from_cash_shows_its_steps_one_a_line_in_dollars_and_says_it_sells_nothing(
        lees, as_user, firm_a):
    with tenant_context(firm_a):
        policy(auto_approve=True)
    page = as_user("pm").post(_url(lees["household"], "cash-flows/"), {"kind": "withdrawal", "amount": "1000"},
                              follow=True).content.decode()
    with tenant_context(firm_a):
        flow = CashFlow.objects.get(kind="withdrawal")
        statuses = set(Proposal.objects.filter(run=flow.run).values_list("status", flat=True))
    assert flow.plan["sales"] == []
    said = _flash(page)
    assert "Its sales wait for approval" not in said
    if statuses == {Proposal.Status.APPROVED}:
        assert "cash pays it all ($1,000.00 from LEE-JT (Taxable)), nothing is sold; approved within the firm" in said
    else:
        assert "cash pays it all ($1,000.00 from LEE-JT (Taxable)), nothing is sold; it waits for approval below" in said
    steps = re.search(r'<ul class="steps" data-testid="funding-steps">(.*?)</ul>', page, re.S).group(1)
    assert "<li>$1,000.00 from the cash of LEE-JT (taxable)</li>" in steps


def test_a_tax_cost_shows_as_a_cost_not_a_gain(lees, as_user):
    page = as_user("pm").post(_url(lees["household"], "cash-flows/"), {"kind": "withdrawal", "amount": "20000"},
                              follow=True).content.decode()
    cell = re.search(r'<td class="num" data-testid="cash-flow-tax">(.*?)</td>', page, re.S).group(1)
    assert cell.startswith("$") and "gain" not in cell and "+" not in cell
    # the household proposal says it in words: a cost "adds", a saving "saves" (not "-$555.00")
    said = re.search(r'data-testid="choice-tax">(.*?)</span>', page, re.S).group(1)
    assert said == f"adds {cell}"
    steps = re.search(r'<ul class="steps" data-testid="funding-steps">(.*?)</ul>', page, re.S).group(1)
    assert steps.count("<li>") >= 2 and "<li>$2,000.00 from the cash of LEE-JT (taxable)</li>" in steps


def _separate_with_carryovers(household):
    this_year = timezone.localdate().year
    Household.objects.filter(pk=household.pk).update(
        filing_status="married_separate", carryforward_year=this_year, carryforward_short_term=D("3000"),
        carryforward_long_term=D("500"), carryforward_second_short_term=D("4200"),
        carryforward_second_long_term=D("1800"))
    return this_year


def _form_as_shown(page: str) -> dict:
    fields = ("carryforward_year", "carryforward_short_term", "carryforward_long_term",
              "carryforward_second_short_term", "carryforward_second_long_term")
    return {f: re.search(rf'name="{f}"[^>]*value="([^"]*)"', page).group(1) for f in fields}


@pytest.mark.parametrize("filer, carried", [("second", (D("4200"), D("1800"))), ("first", (D("3000"), D("500")))])
def test_a_separate_household_turning_single_saves_as_the_form_shows_it_keeping_the_sole_filers_part(
        lees, as_user, firm_a, filer, carried):
    with tenant_context(firm_a):
        this_year = _separate_with_carryovers(lees["household"])
    advisor = as_user("advisor")
    shown = _form_as_shown(advisor.get(_url(lees["household"])).content.decode())
    assert shown["carryforward_second_short_term"] == "4200.00"  # the form sends each spouse's back

    page = advisor.post(_url(lees["household"], "tax/"), {
        **shown, "filing_status": "single", "filing_status_from": str(this_year), "sole_filer": filer},
        follow=True).content.decode()

    assert "Tax returns saved" in page
    with tenant_context(firm_a):
        h = Household.objects.get(pk=lees["household"].pk)
        assert h.filing_status == "single" and h.sole_filer == filer
        assert (h.carryforward_short_term, h.carryforward_long_term) == carried
        assert (h.carryforward_second_short_term, h.carryforward_second_long_term) == (0, 0)


def test_a_separate_household_turning_joint_carries_both_spouses_parts_together_each_still_its_own(
        lees, as_user, firm_a):
    with tenant_context(firm_a):
        this_year = _separate_with_carryovers(lees["household"])
    advisor = as_user("advisor")
    shown = _form_as_shown(advisor.get(_url(lees["household"])).content.decode())
    advisor.post(_url(lees["household"], "tax/"), {**shown, "filing_status": "married_joint",
                                                   "filing_status_from": str(this_year)})
    with tenant_context(firm_a):
        h = Household.objects.get(pk=lees["household"].pk)
        # each part stays its spouse's (Treas. Reg. §1.1212-1(c)(1)(iii)); the joint return takes their sum
        assert (h.filing_status, h.carryforward_short_term, h.carryforward_long_term, h.carryforward_second_short_term,
                h.carryforward_second_long_term) == ("married_joint", D("3000"), D("500"), D("4200"), D("1800"))
        assert loss_carried_into([h], this_year) == {(h.pk, ""): (D("7200"), D("2300"))}


def test_a_second_spouses_carryover_typed_into_a_single_year_is_refused_with_the_sole_filer_rule(
        lees, as_user, firm_a):
    with tenant_context(firm_a):
        this_year = timezone.localdate().year
        Household.objects.filter(pk=lees["household"].pk).update(filing_status="single", sole_filer="second")
    page = as_user("advisor").post(_url(lees["household"], "tax/"), {
        "filing_status": "single", "filing_status_from": str(this_year), "sole_filer": "second",
        "carryforward_year": str(this_year), "carryforward_short_term": "0", "carryforward_long_term": "0",
        "carryforward_second_short_term": "4,200", "carryforward_second_long_term": "1,800"},
        follow=True).content.decode()
    said = _flash(page)
    assert "the sole filer&#x27;s (the second spouse&#x27;s) and carries in only that spouse&#x27;s part" in said
    assert "a joint return takes both" not in said


def test_the_preview_of_a_household_with_orders_out_says_it_is_held_back_not_trades(lees, as_user, firm_a):
    with tenant_context(firm_a):
        Proposal.objects.filter(pk=lees["members"]["LEE-JT"]).update(status=Proposal.Status.RELEASED)
    page = as_user("pm").post(_url(lees["household"], "preview/")).content.decode()
    assert "A rebalance now would leave the household as it is, so there is nothing to preview" in page
    assert "LEE-JT is not rebalanced: released orders of this account are still open at the custodian" in page
    assert "Drift" not in page and "<table" not in page
