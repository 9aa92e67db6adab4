"""Accounts → Assign says how many open proposals the change superseded (made under the template
or model the accounts no longer have)."""

import re

import pytest

from rebalancing.models import Proposal
from tests.rebalancing.book import make_template

pytestmark = pytest.mark.django_db


def test_assigning_a_template_says_how_many_open_proposals_were_superseded(book, as_user):
    # Given F-000 with its run's proposal waiting for approval
    account = book["mine"][0]
    proposal = Proposal.objects.get(account=account, run=book["run"])
    assert proposal.status == Proposal.Status.PENDING
    esg = make_template("esg", overridable=book["template"].overridable)
    # When a firm admin assigns another template to it
    response = as_user("admin").post("/accounts/assign/", {"q": account.custodian_number, "set_template": esg.pk},
                                     follow=True)
    page = re.sub(r"\s+", " ", response.content.decode())
    # Then the message says so, and the proposal is superseded
    assert ("Assigned to 1 account. 1 open proposal made under the settings before was superseded: the next run "
            "proposes again.") in page
    proposal.refresh_from_db()
    assert proposal.status == Proposal.Status.SUPERSEDED
