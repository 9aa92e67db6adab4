"""Attack 12: the approval workflow tried by those who must not get past it. Who may decide a
proposal is one rule (rebalancing.access.decision_capacity): the household's advisor; a portfolio
manager for a household without an advisor; compliance where the policy asks for its approval. No
one approves twice under two hats, and a role that approves nothing firm-wide gives an advisor no
reach beyond their own households."""

from __future__ import annotations

from datetime import date

import pytest
from django_tenants.utils import tenant_context

from rebalancing.access import decision_capacity, proposals_decidable_by
from rebalancing.models import Proposal, RebalanceRun
from rebalancing.services.people import advisor_assign
from rebalancing.services.runs import run_process_chunk
from tenants.roles import FirmRole
from tenants.services import user_ensure
from tests.conftest import PASSWORD
from tests.rebalancing.book import AS_OF, make_account

pytestmark = pytest.mark.django_db

API = "/api/v1"


@pytest.fixture
def unadvised(book, firm_a):
    """A pending proposal of a household nobody advises."""
    with tenant_context(firm_a):
        account = make_account("U-001", model=book["model"], template=book["template"], cash="2000",
                               holdings=[("VTI", 300, 18000, date(2019, 3, 4)), ("XLE", 120, 6000, date(2020, 5, 1)),
                                         ("BND", 150, 13500, date(2026, 6, 1))])
        run = RebalanceRun.objects.create(scope={"account_ids": [account.pk]}, as_of=AS_OF, total=1,
                                          started_by_label="test")
        run_process_chunk(run_id=run.pk, account_ids=[account.pk])
        proposal = Proposal.objects.get(account=account, run=run)
        assert proposal.status == Proposal.Status.PENDING
        return proposal


def _two_hats(firm, other: FirmRole, household):
    with tenant_context(firm):
        user = user_ensure(username=f"adv-{other}@x.example", email=f"adv-{other}@x.example",
                           roles=[FirmRole.ADVISOR, other], password=PASSWORD)
        advisor_assign(household=household, advisor=user, by=None)
        return user


@pytest.mark.parametrize("other", [FirmRole.COMPLIANCE, FirmRole.FIRM_ADMIN])
def test_an_advisor_with_a_role_that_approves_nothing_decides_no_household_without_an_advisor(
        firm_a, book, people, unadvised, client_for, other):
    user = _two_hats(firm_a, other, book["mine"][0].household)
    with tenant_context(firm_a):
        own = Proposal.objects.get(account=book["mine"][0], run=book["run"])
        assert decision_capacity(people["pm"], unadvised) == "advisor"  # the portfolio manager's
        assert decision_capacity(user, own) == "advisor"  # their own household: theirs to decide
        assert decision_capacity(user, unadvised) is None
        assert not proposals_decidable_by(user).filter(pk=unadvised.pk).exists()

    answer = client_for(firm_a, user).post(f"{API}/proposals/{unadvised.pk}/approve/", {"comment": "mine?"},
                                           content_type="application/json")

    assert answer.status_code == 403, answer.content
    with tenant_context(firm_a):
        unadvised.refresh_from_db()
        assert unadvised.status == Proposal.Status.PENDING and not unadvised.approvals.exists()


def test_a_portfolio_manager_who_also_advises_keeps_the_households_without_an_advisor(firm_a, book, unadvised):
    user = _two_hats(firm_a, FirmRole.PORTFOLIO_MANAGER, book["mine"][0].household)
    with tenant_context(firm_a):
        assert decision_capacity(user, unadvised) == "advisor"


def test_four_eyes_one_person_with_both_hats_approves_once(firm_a, book, people, client_for):
    """The policy asks for compliance's approval beside the advisor's: an advisor who is also
    compliance gives one of them, never both."""
    user = _two_hats(firm_a, FirmRole.COMPLIANCE, book["mine"][0].household)
    with tenant_context(firm_a):
        proposal = Proposal.objects.get(account=book["mine"][0], run=book["run"])
        Proposal.objects.filter(pk=proposal.pk).update(requires_compliance=True)
    client = client_for(firm_a, user)

    first = client.post(f"{API}/proposals/{proposal.pk}/approve/", {"comment": ""}, content_type="application/json")
    second = client.post(f"{API}/proposals/{proposal.pk}/approve/", {"comment": ""}, content_type="application/json")
    edit = client.post(f"{API}/proposals/{proposal.pk}/revise/", {"drop": ["VTI"]}, content_type="application/json")
    page = client.post(f"/proposals/{proposal.pk}/decide/", {"action": "approve"})

    assert first.status_code == 200 and first.json()["status"] == "pending_approval"
    assert second.status_code == 409 and second.json()["code"] == "already_decided"
    assert edit.status_code in (403, 409)  # one who decided does not edit it afterwards
    assert page.status_code == 302
    with tenant_context(firm_a):
        proposal.refresh_from_db()
        assert proposal.status == Proposal.Status.PENDING
        assert list(proposal.approvals.values_list("user_id", flat=True)) == [user.pk]
        assert not proposals_decidable_by(user).filter(pk=proposal.pk).exists()
    other = client_for(firm_a, people["compliance"]).post(f"{API}/proposals/{proposal.pk}/approve/",
                                                         {"comment": "second pair of eyes"},
                                                         content_type="application/json")
    assert other.status_code == 200 and other.json()["status"] == "approved"


def test_an_advisor_who_approved_cannot_edit_and_approve_again(firm_a, book, people, client_for):
    with tenant_context(firm_a):
        proposal = Proposal.objects.get(account=book["mine"][0], run=book["run"])
        Proposal.objects.filter(pk=proposal.pk).update(requires_compliance=True)
    client = client_for(firm_a, people["advisor"])

    approve = client.post(f"{API}/proposals/{proposal.pk}/approve/", {"comment": ""}, content_type="application/json")
    edit = client.post(f"{API}/proposals/{proposal.pk}/revise/", {"drop": ["VTI"]}, content_type="application/json")
    bulk = client.post("/approvals/bulk/", {"proposal": [proposal.pk]}, follow=True)

    assert approve.status_code == 200 and edit.status_code == 403
    assert "not approved" in bulk.content.decode()
    with tenant_context(firm_a):
        proposal.refresh_from_db()
        assert proposal.status == Proposal.Status.PENDING and proposal.approvals.count() == 1
        assert not Proposal.objects.filter(revised_from=proposal).exists()


def test_nobody_releases_what_is_not_approved_and_only_a_portfolio_manager_releases(firm_a, book, people, client_for):
    with tenant_context(firm_a):
        proposal = Proposal.objects.get(account=book["mine"][0], run=book["run"])
    early = client_for(firm_a, people["pm"]).post(f"{API}/proposals/{proposal.pk}/release/", {"comment": ""},
                                                 content_type="application/json")
    client_for(firm_a, people["advisor"]).post(f"{API}/proposals/{proposal.pk}/approve/", {"comment": ""},
                                               content_type="application/json")
    by_advisor = client_for(firm_a, people["advisor"]).post(f"{API}/proposals/{proposal.pk}/release/",
                                                            {"comment": ""}, content_type="application/json")

    assert early.status_code == 409 and early.json()["code"] == "illegal_transition"
    assert by_advisor.status_code == 403
    with tenant_context(firm_a):
        proposal.refresh_from_db()
        assert proposal.status == Proposal.Status.APPROVED
