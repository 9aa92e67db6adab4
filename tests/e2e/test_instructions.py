"""A portfolio manager gives an account a one-off instruction on its page, in Chromium: sell one fund
for another once; the proposal says what was asked and the parameters stay as they were."""

import re
from datetime import date

import pytest
from playwright.sync_api import expect

from rebalancing.models import Account, Household, Proposal, RebalanceRun
from tests.rebalancing.book import make_account


@pytest.fixture
def own_account(e2e_firm, in_firm):
    """An account of its own, with no proposal, removed afterwards: the other journeys count the
    firm's accounts and runs."""
    with in_firm():
        book = e2e_firm["book"]
        account = make_account("E-INS", model=book["model"], template=book["template"], cash="1500",
                               holdings=[("VTI", 200, 15000, date(2019, 3, 4)), ("XLE", 100, 7000, date(2020, 5, 1)),
                                         ("BND", 120, 10200, date(2024, 6, 3))])
    yield account
    with in_firm():
        runs = list(RebalanceRun.objects.filter(proposals__account=account).values_list("pk", flat=True))
        Account.objects.filter(pk=account.pk).delete()  # its proposals, lots and outcomes with it
        RebalanceRun.objects.filter(pk__in=runs).delete()
        Household.objects.filter(pk=account.household_id).delete()


def test_a_portfolio_manager_sells_one_fund_for_another_once(own_account, signed_in, in_firm, firm_url, shot):
    page = signed_in("pm")
    page.goto(firm_url(f"/accounts/{own_account.pk}/"))
    page.get_by_role("link", name="Instruct").click()
    form = page.locator("#instruct-form")
    expect(page.get_by_role("heading", name="One-off instruction")).to_be_visible()
    form.get_by_label("Instruction", exact=True).select_option("sell")
    form.get_by_label("Security", exact=True).fill("xle")
    form.get_by_label("Buy with the proceeds").fill("vti")
    shot(page, "pm-one-off-instruction")
    form.get_by_role("button", name="Propose").click()

    expect(page.locator(".messages")).to_contain_text("sell all of XLE and buy VTI")
    expect(page.locator(".messages")).to_contain_text("The account's parameters are unchanged.")
    expect(page.get_by_test_id("instruction")).to_contain_text("A one-off instruction by Priya Manager: "
                                                                "sell all of XLE and buy VTI.")
    proposal_id = int(re.search(r"/proposals/(\d+)/", page.url).group(1))
    trades = page.get_by_role("table").filter(has_text="Reasons").first
    expect(trades).to_contain_text("XLE")
    with in_firm():
        proposal = Proposal.objects.get(pk=proposal_id)
        assert proposal.account_id == own_account.pk and proposal.run.kind == RebalanceRun.Kind.INSTRUCTION
        sold = {t["symbol"]: t for t in proposal.result["trades"]}["XLE"]
        assert sold["side"] == "sell" and sold["quantity"] == 100
        assert Account.objects.get(pk=own_account.pk).overrides == {}
