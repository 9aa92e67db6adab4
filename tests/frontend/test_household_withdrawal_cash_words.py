"""A withdrawal that cash pays in full says whose cash pays it and how much from each account,
naming the accounts as the household page does ("LEE-JT (Taxable)")."""

import re
from decimal import Decimal as D

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import Account, CashFlow

from . import test_household_pages as household_pages

pytestmark = pytest.mark.django_db

_url = household_pages._url
lees = household_pages.lees  # the Lee household: a joint account, a traditional IRA and a Roth IRA


def _flash(page: str) -> str:
    found = re.search(r'<ul class="messages" role="status">(.*?)</ul>', page, re.S)
    return found.group(1) if found else ""


def test_a_withdrawal_cash_pays_names_the_account_and_the_amount(lees, as_user, firm_a):
    # When a withdrawal the joint account's cash covers is entered
    page = as_user("pm").post(_url(lees["household"], "cash-flows/"), {"kind": "withdrawal", "amount": "1000"},
                              follow=True).content.decode()

    # Then the message names the account, as the page does, and what it pays
    with tenant_context(firm_a):
        assert CashFlow.objects.get(kind="withdrawal").plan["sales"] == []
    said = _flash(page)
    assert "cash pays it all ($1,000.00 from LEE-JT (Taxable)), nothing is sold" in said


def test_cash_of_two_accounts_is_named_account_by_account_largest_first(lees, firm_a):
    # Given a plan taking cash from two accounts (the engine sells in a taxable account before it
    # takes a second account's cash, so the plan is written here as a stored one would read)
    from frontend.views.households import _cash_paying

    with tenant_context(firm_a):
        flow = CashFlow(household=lees["household"], kind="withdrawal", amount=D("2000"),
                        plan={"cash_used": {"LEE-ROTH": 500.0, "LEE-JT": 1500.0}, "sales": []})

        # Then each account is named with its tax status and the cash it pays
        assert _cash_paying(flow) == "$1,500.00 from LEE-JT (Taxable), $500.00 from LEE-ROTH (Roth IRA)"


def test_a_withdrawal_whose_sales_save_tax_writes_the_saving_with_its_sign_first(lees, as_user, firm_a):
    # Given the joint account's cash short of the withdrawal: its sale of BND realises a loss
    with tenant_context(firm_a):
        Account.objects.filter(custodian_number="LEE-JT").update(cash=D("600"))

    page = as_user("pm").post(_url(lees["household"], "cash-flows/"), {"kind": "withdrawal", "amount": "1000"},
                              follow=True).content.decode()

    with tenant_context(firm_a):
        assert CashFlow.objects.get(kind="withdrawal").tax_cost < 0
    said = _flash(page)
    assert re.search(r"planned: estimated tax −\$\d+\.\d\d;", said), said
    assert "$-" not in said


def test_a_withdrawal_that_takes_the_rmd_owed_first_says_so(lees, as_user, firm_a):
    # Given the IRA's owner is 76 in 2026 with 100,000 on 31 December 2025: a 2026 RMD of 4,219.41 owed
    from datetime import date

    with tenant_context(firm_a):
        Account.objects.filter(pk=lees["ira"].pk).update(owner_birth_date=date(1950, 6, 1),
                                                          year_end_values={"2025": "100000.00"})
    page = as_user("pm").post(_url(lees["household"], "cash-flows/"), {"kind": "withdrawal", "amount": "5000"},
                              follow=True).content.decode()

    said = _flash(page)
    assert ("Withdrawal of $5,000.00 planned, first the RMD still owed this year ($4,219.41 from LEE-IRA: a "
            "distribution from the IRA counts towards it, and its tax is due whichever account pays): estimated "
            "tax") in said, said
