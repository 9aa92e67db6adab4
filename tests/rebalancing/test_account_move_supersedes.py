"""An account moved to another household: its open proposal was solved in the household it left (its
return, its wash-sale family), so it gives way, as a change of its settings does; the page says the
rates it takes on its new return and how many proposals gave way."""

import pytest
from django.urls import reverse
from django_tenants.utils import tenant_context

from rebalancing.models import Account, Proposal
from rebalancing.services.households import household_account_move
from tenants.audit.models import AuditEvent

from .test_overrides_supersede_proposals import _statuses, book, people  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db
S = Proposal.Status


def test_a_moved_accounts_open_proposal_gives_way_and_the_others_stay(firm_a, book, people):  # noqa: F811
    with tenant_context(firm_a):
        pm = people["pm"]
        moved = household_account_move(user=pm, account=book["accounts"][0], household=None)

        assert moved.superseded == 1 and _statuses(book) == [S.SUPERSEDED, S.PENDING]
        event = AuditEvent.objects.get(action="proposal.supersede", object_id=str(book["proposals"][0].pk))
        assert "account T-000 moved from household T-000 household to Account T-000 household" in event.comment


def test_the_page_says_the_rates_taken_and_the_proposals_superseded(firm_a, book, people, client_for):  # noqa: F811
    with tenant_context(firm_a):
        source, target = book["accounts"][0], book["accounts"][1]
        Account.objects.filter(pk=source.pk).update(short_term_rate="0.3", long_term_rate="0.15")
        Account.objects.filter(pk=target.pk).update(short_term_rate="0.408", long_term_rate="0.238")
        url = reverse("household_members", args=[target.household_id])
    page = client_for(firm_a, people["pm"]).post(url, {"add": source.custodian_number}, follow=True)
    text = page.content.decode()
    assert "T-000 moved into this household." in text
    assert "at its rates: 40.8% short-term, 23.8% long-term (before: 30.0% / 15.0%)" in text
    # Both accounts' proposals were solved apart: the mover's, and none of the target's own (the
    # household is managed account by account, so its other account's proposal still holds).
    assert "1 open proposal made under the settings before was superseded" in text
    with tenant_context(firm_a):
        assert _statuses(book) == [S.SUPERSEDED, S.PENDING]
