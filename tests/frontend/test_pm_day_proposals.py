"""The proposal page beside the decision: why compliance is asked (in the Approvals list's words)
and who approved so far; and a decision on a superseded proposal leads to the one that replaced it."""

import html
import re

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import ApprovalPolicy, Proposal, RebalanceRun
from rebalancing.selectors import RunScope
from rebalancing.services.runs import run_process_chunk
from tests.rebalancing.book import AS_OF

pytestmark = pytest.mark.django_db


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def words(fragment: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", fragment)).strip()


@pytest.fixture
def to_compliance(book, firm_a) -> Proposal:
    """The advisor's account's pending proposal, above the policy's turnover threshold (5%)."""
    with tenant_context(firm_a):
        policy = ApprovalPolicy.current()
        policy.compliance_min_turnover = 0.05
        policy.save()
        proposal = Proposal.objects.get(account=book["mine"][0], status=Proposal.Status.PENDING)
        proposal.requires_compliance = True
        proposal.save(update_fields=["requires_compliance"])
    assert proposal.turnover >= 0.05
    return proposal


def test_the_page_says_why_compliance_is_asked_and_who_approved_so_far(to_compliance, as_user):
    advisor = as_user("advisor")
    pk = to_compliance.pk

    # before anyone decides: the reason beside the decision, as the Approvals list gives it
    before = text(advisor.get(f"/proposals/{pk}/"))
    listed = text(advisor.get("/approvals/"))
    row = re.search(rf'<tr[^>]*>(?:(?!</tr>).)*href="/proposals/{pk}/"(?:(?!</tr>).)*</tr>', listed).group(0)
    reason = re.search(r"above the policy&#x27;s review thresholds: ([^<]*)", row).group(1).strip()
    why = re.search(r'data-testid="compliance-why">(.*?)</span>', before)
    assert why, "the proposal page does not say why compliance's approval is needed"
    assert "turnover" in reason and html.unescape(reason) in words(why.group(1))
    assert "No one has approved it yet." in before

    # when the advisor approves: it waits for compliance, and the page says who approved
    advisor.post(f"/proposals/{pk}/decide/", {"action": "approve"})
    after = text(advisor.get(f"/proposals/{pk}/"))
    assert "Waiting for compliance" in after
    state = words(re.search(r'data-testid="decision-state">(.*?)</p>', after).group(1))
    assert html.unescape(reason) in state
    assert re.search(r"Approved so far by Advisor \(as advisor, ", state), state

    # and compliance, who decides now, reads the same beside its decision
    compliance = words(re.search(r'data-testid="decision-state">(.*?)</p>',
                                 text(as_user("compliance").get(f"/proposals/{pk}/"))).group(1))
    assert html.unescape(reason) in compliance and "Approved so far by Advisor" in compliance


def test_a_proposal_within_policy_says_no_compliance_reason(book, as_user, firm_a):
    with tenant_context(firm_a):
        proposal = Proposal.objects.get(account=book["mine"][0], status=Proposal.Status.PENDING)

    page = text(as_user("advisor").get(f"/proposals/{proposal.pk}/"))

    assert 'data-testid="compliance-why"' not in page


def test_approving_a_superseded_proposal_links_the_one_that_replaced_it(book, as_user, firm_a):
    account = book["mine"][0]
    with tenant_context(firm_a):
        stale = Proposal.objects.get(account=account, status=Proposal.Status.PENDING)
        run = RebalanceRun.objects.create(scope=RunScope(account_ids=(account.pk,)).to_dict(), as_of=AS_OF, total=1,
                                          started_by_label="test")
        run_process_chunk(run_id=run.pk, account_ids=[account.pk])
        newer = Proposal.objects.get(run=run, account=account)
        stale.refresh_from_db()
        assert stale.status == Proposal.Status.SUPERSEDED

    # when the advisor approves from a page loaded before the run
    page = text(as_user("advisor").post(f"/proposals/{stale.pk}/decide/", {"action": "approve"}, follow=True))

    message = re.search(r'<ul class="messages"[^>]*>(.*?)</ul>', page).group(1)
    assert "this one is superseded" in message
    assert f'<a href="/proposals/{newer.pk}/">#{newer.pk}</a> (pending approval)' in message
    # the page of the superseded proposal says so too
    assert f'href="/proposals/{newer.pk}/"' in re.search(r'data-testid="superseded-by">(.*?)</p>', page).group(1)


def test_a_proposal_superseded_with_nothing_newer_says_the_next_run_proposes(book, as_user, firm_a):
    account = book["mine"][0]
    with tenant_context(firm_a):
        stale = Proposal.objects.get(account=account, status=Proposal.Status.PENDING)
        Proposal.objects.filter(pk=stale.pk).update(status=Proposal.Status.SUPERSEDED)

    page = text(as_user("advisor").post(f"/proposals/{stale.pk}/decide/", {"action": "approve"}, follow=True))

    assert "No newer proposal has been made for the account yet: the next run proposes again." in page
