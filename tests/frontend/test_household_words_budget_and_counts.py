"""The household page's words a demanding reader checks: a saving "uses none" of the tax budget (not
"saves $5,304 of $0 left"), the accounts' tax said as the headline says it, one account approved in
the singular, and a refused cash-flow file's message with one full stop."""

import html
import re
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django_tenants.utils import tenant_context

from frontend.views.households import _cash_flows_refused, _decided_words
from rebalancing.models import HouseholdProposal, Proposal

from .test_household_pages import _url, lees  # noqa: F401

pytestmark = pytest.mark.django_db


def _page(as_user, household) -> str:
    return html.unescape(as_user("advisor").get(_url(household)).content.decode())


def _headline(page: str) -> str:
    return re.sub(r"\s+", " ", re.search(r"estimated tax: (.*?)</p>", page, re.S).group(1))


@pytest.mark.parametrize(("tax", "budget", "said"), [
    ("-5304", "0", "saves $5,304 and uses none of the year's budget ($0 left)"),
    ("0", "2500", "none ($2,500 left in the year's budget)"),
    ("1050", "5000", "adds $1,050 of $5,000 left in the year's budget"),
    ("-120", None, "saves $120"),
])
def test_the_headline_says_a_saving_uses_none_of_the_budget(lees, as_user, firm_a, tax, budget, said):  # noqa: F811
    with tenant_context(firm_a):
        HouseholdProposal.objects.filter(pk=lees["proposal"].pk).update(
            estimated_tax=Decimal(tax), tax_budget=None if budget is None else Decimal(budget))

    assert _headline(_page(as_user, lees["household"])) == said


def test_the_accounts_tax_is_said_as_the_headline_says_it(lees, as_user, firm_a):  # noqa: F811
    with tenant_context(firm_a):
        HouseholdProposal.objects.filter(pk=lees["proposal"].pk).update(estimated_tax=Decimal("-1224"))
        members = list(Proposal.objects.filter(household_proposal=lees["proposal"]).order_by("pk"))
        taxes = [Decimal("-977"), Decimal("-247")] + [Decimal(0)] * (len(members) - 2)
        for member, tax in zip(members, taxes, strict=True):
            Proposal.objects.filter(pk=member.pk).update(estimated_tax=tax)

    page = _page(as_user, lees["household"])

    assert _headline(page).startswith("saves $1,224")
    table = page.split('id="proposal-h"', 1)[1].split("</table>", 1)[0]
    assert "saves $977" in table and "saves $247" in table
    assert "−$977" not in table and "-$977" not in table and "−$247" not in table


def test_one_accounts_approval_is_said_in_the_singular(lees, firm_a):  # noqa: F811
    with tenant_context(firm_a):
        one = Proposal.objects.filter(household_proposal=lees["proposal"]).select_related("account").first()
        one.status = Proposal.Status.APPROVED
        two = list(Proposal.objects.filter(household_proposal=lees["proposal"]).select_related("account")[:2])
        for p in two:
            p.status = Proposal.Status.APPROVED

        said_one = _decided_words(lees["proposal"], [one], approve=True)
        said_two = _decided_words(lees["proposal"], two, approve=True)

    assert said_one.endswith("is recorded. The account's proposal is approved.")
    assert "All 1 accounts" not in said_one
    assert said_two.endswith("All 2 accounts' proposals are approved.")


def test_a_refused_cash_flow_file_ends_with_one_full_stop():
    refused = SimpleNamespace(message="The cash-flow file was refused.", detail={"total": 2, "problems": [
        {"row": 2, "column": "account_number", "problem": "LEE-JT is a taxable account."},
        {"row": 3, "column": None, "problem": "the line has 2 cells and the header has 4 columns"},
    ]})

    said = _cash_flows_refused(refused)

    assert said == ("The cash-flow file was refused (2 problems): row 2, account_number: LEE-JT is a taxable account; "
                    "row 3, whole line: the line has 2 cells and the header has 4 columns. Nothing was imported.")
    assert ".." not in said and ".;" not in said
