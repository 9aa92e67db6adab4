"""The run page's count of accounts a run leaves out for an approved proposal not yet released is
what the run leaves out: with a household managed as one, all its accounts (the run solves it
whole), not only the one whose proposal was approved. Before, it counted the approved ones only."""

import html
import re

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import Account, Household, Proposal, RebalanceRun
from rebalancing.selectors import RunScope, accounts_approved_unreleased, accounts_for_scope

pytestmark = pytest.mark.django_db


def text(response) -> str:
    return re.sub(r"\s+", " ", html.unescape(response.content.decode()))


def test_the_count_of_accounts_left_out_includes_the_household_managed_as_one(firm_a, book, as_user):
    accounts = book["accounts"]
    with tenant_context(firm_a):
        # Given three accounts in one household managed as one, one of them with an approved proposal
        together = accounts[0].household
        Household.objects.filter(pk=together.pk).update(managed_as=Household.ManagedAs.HOUSEHOLD, model=book["model"])
        Account.objects.filter(pk__in=[a.pk for a in accounts[1:3]]).update(household=together)
        Proposal.objects.filter(account=accounts[0], run=book["run"]).update(status=Proposal.Status.APPROVED)
        everyone = len(accounts_for_scope(RunScope(firm=True, replace_approved=True)))
        left_out = everyone - len(accounts_for_scope(RunScope(firm=True)))
        assert left_out == 3
        assert accounts_approved_unreleased(RunScope(firm=True)) == left_out

    client = as_user("admin")
    page = text(client.get("/runs/"))
    assert ("3 accounts have an approved proposal not yet released (or are in a household managed as one that "
            "has).") in page

    client.post("/runs/", {"scope": "firm"})
    with tenant_context(firm_a):
        assert RebalanceRun.objects.latest("created_at").total == everyone - 3
